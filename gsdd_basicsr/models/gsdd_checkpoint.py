"""The checkpoint format of a distillation: the latent banks it writes and the training state it resumes from.

Plain functions of what they use; :class:`GSDDModel`'s ``save`` / ``resume_training`` call them. A
checkpoint at iteration ``t`` is ``models/latents_<t>.pth`` and ``models/latents_latest.pth`` (the bank,
:mod:`gsdd_basicsr.bank.format`, latents in ``gsdd.bank_dtype``) and ``training_states/<t>.state``
(:func:`training_state`), each written atomically; the final save writes ``latents_latest.pth`` only.
"""
from copy import deepcopy
from os import path as osp

import torch

from gsdd_basicsr.bank.format import save_latent_bank
from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.utils.atomic import atomic_torch_save


def write_checkpoint(bank, state, path_opt, iteration, bank_dtype):
    """Write one checkpoint (see the module docstring); ``state`` None: the final save (bank only).

    Args:
        bank (dict): :func:`gsdd_basicsr.bank.format.build_latent_bank`'s bank.
        state (dict | None): :func:`training_state`'s state, or None.
        path_opt (dict): the options' ``path`` (``models``, ``training_states``).
        iteration (int): names the files.
        bank_dtype (str): ``gsdd.bank_dtype``.
    """
    if state is not None:
        save_latent_bank(bank, osp.join(path_opt['models'], f'latents_{iteration}.pth'), latent_dtype=bank_dtype)
    save_latent_bank(bank, osp.join(path_opt['models'], 'latents_latest.pth'), latent_dtype=bank_dtype)
    if state is not None:
        atomic_torch_save(state, osp.join(path_opt['training_states'], f'{iteration}.state'), 'training state')


def training_state(epoch, iteration, optimizer, schedulers, scaler, latents, gather=lambda rows: rows):
    """All a resume needs, as a snapshot: host copies that share no storage with the live state.

    ``optimizer.state_dict()`` packs the optimizer's live per-parameter dicts by reference; new dicts of
    host copies are built instead, so a save never moves or changes the state the next step uses.

    Args:
        epoch (int), iteration (int): BasicSR's counters.
        optimizer (torch.optim.Optimizer): the latents' optimizer.
        schedulers (list): BasicSR's schedulers of it.
        scaler (torch.amp.GradScaler): the distillation's loss scaler.
        latents (torch.Tensor): N x 3 x p x p, float32.
        gather (callable): every process's rows of an N x ... tensor (identity in one process).

    Returns:
        dict: ``epoch``, ``iter``, ``optimizers`` (one), ``schedulers``, ``grad_scaler``, ``latents``, on the CPU.
    """
    def snapshot(value):
        if not torch.is_tensor(value):
            return deepcopy(value)
        if value.shape == latents.shape:  # per-latent optimizer state: rows of other processes too
            value = gather(value)
        return value.detach().to('cpu', copy=True)

    live = optimizer.state_dict()
    optim_state = {
        'state': {key: {name: snapshot(value) for name, value in slot.items()} for key, slot in live['state'].items()},
        'param_groups': deepcopy(live['param_groups']),
    }
    return {
        'epoch': epoch,
        'iter': iteration,
        'optimizers': [optim_state],
        'schedulers': [s.state_dict() for s in schedulers],
        'grad_scaler': scaler.state_dict(),
        'latents': snapshot(latents),
    }


def check_resumable(resume_state, latents_shape, where):
    """Refuse a state without latents of ``latents_shape`` (another ipc, latent_size or class set)."""
    if 'latents' not in resume_state or resume_state['latents'].shape != latents_shape:
        raise GSDDError(f'training state {where} holds no latents of shape {tuple(latents_shape)} (another ipc, '
                        'latent_size or class set?); start a new experiment name or restore the matching options.')
