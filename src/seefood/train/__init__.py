"""Fine-tuning, evaluation, checkpoints and TensorBoard logging."""
