"""Checkpoints of GSDDModel: the latent bank it writes and the training state it resumes from."""
from copy import deepcopy
from os import path as osp

import torch

from gsdd_basicsr.bank.format import build_latent_bank, save_latent_bank
from gsdd_basicsr.errors import GSDDError
from gsdd_basicsr.utils.atomic import atomic_torch_save


class GSDDCheckpointMixin:
    """``save`` / ``save_training_state`` / ``resume_training`` for :class:`GSDDModel`.

    Every checkpoint writes ``latents_<iter>.pth``, ``latents_latest.pth`` (``gsdd.bank_dtype``)
    and ``<iter>.state`` (float32 latents, optimizer, scheduler and loss-scaler states), each
    atomically. The state is a snapshot: host copies that share no storage with the live
    optimizer state, which keeps its tensors and device.
    """

    def latent_bank(self, current_iter):
        """The bank (:mod:`gsdd_basicsr.bank.format`'s format; collective under --launcher pytorch)."""
        path_opt = self.opt['path']
        return build_latent_bank(
            self._gather_rows(self.latents.detach()), self.labels, self.class_names, self.opt['scale'],
            self.opt['network_g'], current_iter, pretrain_network_g=path_opt.get('pretrain_network_g'),
            param_key_g=path_opt.get('param_key_g', 'params_ema'), gsdd=dict(self.gsdd))

    def save(self, epoch, current_iter):
        """Write ``latents_<iter>.pth``, ``latents_latest.pth`` and ``<iter>.state``, each atomically."""
        final = current_iter == -1
        iteration = self.current_iter if final else current_iter
        bank = self.latent_bank(iteration)
        state = None if final else self._training_state(epoch, current_iter)
        if self.rank != 0:
            return
        models = self.opt['path']['models']
        dtype = self.gsdd['bank_dtype']
        if not final:
            save_latent_bank(bank, osp.join(models, f'latents_{iteration}.pth'), latent_dtype=dtype)
        save_latent_bank(bank, osp.join(models, 'latents_latest.pth'), latent_dtype=dtype)
        if state is not None:
            atomic_torch_save(state, osp.join(self.opt['path']['training_states'], f'{current_iter}.state'),
                              'training state')

    def _training_state(self, epoch, current_iter):
        """Optimizer and scheduler states plus the latents: all a resume needs, in one file."""
        # ``state_dict()`` packs the optimizer's live per-parameter dicts by reference: build new
        # dicts of host copies, so a save never moves or changes the state the next step uses.
        live = self.optimizer_z.state_dict()
        optim_state = {
            'state': {
                key: {name: self._snapshot(value) for name, value in slot.items()}
                for key, slot in live['state'].items()
            },
            'param_groups': deepcopy(live['param_groups']),
        }
        return {
            'epoch': epoch,
            'iter': current_iter,
            'optimizers': [optim_state],
            'schedulers': [s.state_dict() for s in self.schedulers],
            'grad_scaler': self.scaler.state_dict(),
            'latents': self._snapshot(self.latents),
        }

    def _snapshot(self, value):
        """A host copy of one optimizer-state entry that shares no storage with the live one
        (latent-shaped tensors gathered over processes first)."""
        if not torch.is_tensor(value):
            return deepcopy(value)
        if value.shape == self.latents.shape:
            value = self._gather_rows(value)
        return value.detach().to('cpu', copy=True)

    def save_training_state(self, epoch, current_iter):
        self.save(epoch, current_iter)

    def resume_training(self, resume_state):
        if 'latents' not in resume_state or resume_state['latents'].shape != self.latents.shape:
            raise GSDDError(f"training state {self.opt['path'].get('resume_state')} holds no latents of shape "
                            f'{tuple(self.latents.shape)} (another ipc, latent_size or class set?); start a new '
                            'experiment name or restore the matching options.')
        super().resume_training(resume_state)
        if resume_state.get('grad_scaler'):
            self.scaler.load_state_dict(resume_state['grad_scaler'])
        self.current_iter = int(resume_state['iter'])  # a final save right after resuming names this iteration
        with torch.no_grad():
            self.latents.copy_(resume_state['latents'].to(self.device))

