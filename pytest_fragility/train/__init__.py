"""Training: jobs, the batched ensemble trainer, the per-model reference trainer, executors."""
