"""The Gradio demo (``subnet-demo``): chat with the top-ranked miner, the leaderboard and network plots.
It uses only the public API of ``subnet``."""
