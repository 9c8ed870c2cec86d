"""Reading a weights file: safely (``weights_only``), on the CPU, and with one line when it cannot be read."""
import torch

from gsdd_basicsr.errors import GSDDError


def load_state_dict_file(path, what, fix):
    """The dict ``torch.save``\\ d in ``path``, loaded on the CPU without arbitrary unpickling.

    Args:
        path (str): the ``.pth`` file (it exists; the caller says where missing files come from).
        what (str): what the file should hold, for the message, e.g. ``'generator weights'``.
        fix (str): what to do instead, for the message, e.g. ``"use torchvision's vgg19-dcbb9e9d.pth"``.

    Returns:
        dict: the saved dict (tensors on the CPU).

    Raises:
        GSDDError: ``<what> <path> cannot be loaded safely (<error type>); <fix>.``, or ``... are not a state
            dict; <fix>.``
    """
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # torch raises several types for truncated, foreign or unsafe pickles
        raise GSDDError(f'{what} {path} cannot be loaded safely ({type(err).__name__}); {fix}.') from err
    if not isinstance(state, dict):
        raise GSDDError(f'{what} {path} are not a state dict; {fix}.')
    return state
