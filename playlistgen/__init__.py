"""playlistgen: generative playlist recommendation with semantic-ID concept clusters."""
__version__ = "0.1.0"

__all__ = ["PlaylistGenerator"]


def __getattr__(name):  # import torch and transformers only when the generator is asked for
    if name == "PlaylistGenerator":
        from playlistgen.inference.generator import PlaylistGenerator

        return PlaylistGenerator
    raise AttributeError(name)
