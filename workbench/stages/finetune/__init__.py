"""06_finetune: SFT of the dataset variants with TRL, full or LoRA (train.py)."""
