"""A stand-in llama.cpp folder: its converter's command line (`convert_hf_to_gguf.py`) and the
`gguf-py` folder that marks a llama.cpp folder."""

from pathlib import Path

FAKE_LLAMA_CPP = Path(__file__).parent
