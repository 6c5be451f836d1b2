"""A tiny causal language model with random weights and a tokenizer trained on the given text,
saved as a normal model folder with a chat template. Nothing is downloaded: the tests and the
local-training benchmark train and serve it exactly as they would a real small model.

    python -m persona_studio.worker.tiny FOLDER [--layers N] [--hidden N] < texts.txt
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<unk>", "<s>", "<|im_end|>", "<pad>", "<|im_start|>"]


def build(
    folder: Path,
    texts: Iterable[str],
    *,
    layers: int = 2,
    hidden: int = 64,
    vocab: int = 600,
    init: float = 0.3,
    seed: int = 0,
    **shape: int,
) -> Path:
    """Write the model and its tokenizer to `folder`; returns it. `shape` overrides the
    LlamaConfig (a benchmark builds a model the size of a real one: its `vocab_size` may
    exceed the tokenizer's, as real models pad theirs)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [*texts, "system user assistant"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="<|im_end|>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
    fast.chat_template = CHAT_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
        # embeddings large enough that the logits can be sure: with the usual 0.02 and frozen
        # embeddings, no adapter can take the loss far below that of a uniform guess
        initializer_range=init,
    )
    for key, value in shape.items():
        setattr(config, key, value)
    if "head_dim" not in shape:  # set from the defaults above at construction: follow the shape
        config.head_dim = config.hidden_size // config.num_attention_heads
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    layers = int(args[args.index("--layers") + 1]) if "--layers" in args else 2
    hidden = int(args[args.index("--hidden") + 1]) if "--hidden" in args else 64
    build(Path(args[0]), sys.stdin.read().splitlines(), layers=layers, hidden=hidden)
    return 0


if __name__ == "__main__":
    sys.exit(main())
