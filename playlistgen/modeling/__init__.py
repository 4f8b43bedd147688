"""The generator: code tokenizer, title encoder, T5 model, batches, training loop, checkpoints, Accelerate launch."""
