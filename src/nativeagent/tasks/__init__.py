"""Tasks: expressions, the solver's programs for them, task sets, generation and the curriculum.

``expression`` parses and reads expressions, ``task`` holds one task and the built-in stages,
``solver`` finds shortest programs, ``generate`` lists and samples reachable expressions,
``taskset`` turns task ids and digits into batches, ``split`` holds shapes out of training,
``curriculum`` schedules stages and ``execution`` runs one program on one task. Importing the
package is cheap; its names load on first use.
"""

from nativeagent._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Task": "task",
        "STAGES": "task",
        "N_STAGES": "task",
        "check_stage": "task",
        "solve": "solver",
        "Batch": "taskset",
        "TaskSet": "taskset",
        "BUILTIN": "taskset",
        "HELD_OUT": "task",
        "OP_TOKENS": "expression",
        "MAX_OPERANDS": "taskset",
        "MAX_SUBGOALS": "taskset",
        "make_batch": "taskset",
        "sample_batch": "taskset",
        "stage_tensor": "taskset",
        "execute": "execution",
    },
)
