"""Code that runs in its own process, started by the app: the only place torch, transformers,
PEFT and TRL are imported (the `local` extra). The GUI, the services and the CLI never import
this package; they start `python -m persona_studio.worker.<module>` and read what it writes.

train.py   LoRA fine-tuning of a causal language model (TRL SFTTrainer + PEFT); JSON lines of
           progress; cancel by a flag file; resume from the last checkpoint
probe.py   what this computer can train on (CUDA, Apple silicon, CPU), as one JSON object
tiny.py    a tiny random-weights model with a tokenizer trained on the spot (tests, benchmarks)
merge.py   an adapter merged into its base model: a folder other tools can run
"""
