"""Lightning modules: the reward regressor's training (``reward_module``) and the GRPO policy's training."""
