"""Training: the loop, evaluation, explanation, checkpoints and metrics of a run directory.

``train`` runs the loop, ``evaluate`` measures greedy accuracy, ``explain`` traces programs,
``checkpoint`` saves and loads run directories safely, ``metrics_log`` writes ``metrics.jsonl``
(and TensorBoard). Import the submodules directly; this package imports nothing itself.
"""
