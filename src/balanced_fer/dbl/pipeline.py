"""The DBL procedure: balanced subsets -> train / prune / retrain per subset on one backbone ->
a union classifier on the full training set -> one plain dense model.

Each phase is an ordinary run of the training loop in its own folder (``task1_train``,
``task1_retrain``, ..., ``final``), with hooks that pick the phase's rows, mask gradients to the
weights the phase may train, apply weight decay by hand to those weights only, and prune. Phases
always keep their last epoch (pruning must reach its target); a fresh optimiser per phase means no
momentum leaks into frozen weights. Masks are saved with every training state and after every phase,
so the pipeline resumes inside any phase.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import BalancedFerError
from ..evaluation import evaluation_paths
from ..imbalance.losses import build_loss
from ..imbalance.subsets import balanced_subsets
from ..models import create_model
from ..models.checkpoint import load_checkpoint, load_training_state, remove_partial_saves, save_checkpoint
from ..training.recipe import Recipe
from ..training.trainer import Trainer, TrainerHooks, TrainingData, load_training_data
from .masks import OwnershipMasks, prunable_weights
from .pruning import cubic_sparsity, prune_owned

log = logging.getLogger("balanced_fer")


@dataclass(frozen=True)
class Phase:
    name: str
    mode: str  # train, retrain or final
    task: int  # 1..K, or K + 1 for the final stage
    epochs: int


def phases(recipe: Recipe) -> list[Phase]:
    cfg = recipe.dbl
    out = []
    for t in range(1, cfg.k + 1):
        out += [
            Phase(f"task{t}_train", "train", t, cfg.task_epochs),
            Phase(f"task{t}_retrain", "retrain", t, cfg.retrain_epochs),
        ]
    return out + [Phase("final", "final", cfg.k + 1, cfg.final_epochs)]


class PhaseHooks(TrainerHooks):
    """What one DBL phase changes in the training loop."""

    def __init__(
        self, recipe: Recipe, phase: Phase, masks: OwnershipMasks, rows: np.ndarray | None, start: Path | None
    ):
        self.cfg, self.phase, self.masks, self.rows, self.start = recipe.dbl, phase, masks, rows, start
        self.weight_decay, self.loss = recipe.optim.weight_decay, recipe.loss
        k = recipe.dbl.k
        if phase.mode == "final":
            self.tasks = set() if self.cfg.linear_probe else set(range(1, k + 1))
        else:
            self.tasks = {phase.task}

    def prepare_data(self, data: TrainingData) -> None:
        self.full_counts = data.train_counts
        if self.rows is not None:
            data.train_index = data.train_index[self.rows]

    def on_setup(self, trainer: Trainer) -> None:
        model, phase = trainer.model, self.phase
        if self.cfg.class_weights == "full" and phase.mode != "final":
            trainer.loss_fn = build_loss(self.loss.name, self.full_counts, **self.loss.kwargs).to(trainer.device)
        if self.start is not None:
            tensors, _ = load_checkpoint(self.start)
            keep_head = phase.mode == "retrain" or (phase.mode == "train" and self.cfg.task_heads == "shared")
            head = model.head_name + "."
            state = {k: v for k, v in tensors.items() if keep_head or not k.startswith(head)}
            model.load_state_dict(state, strict=False)
        if phase.mode == "train":
            self.masks.assign_free(phase.task)
        elif phase.mode == "retrain" and self.cfg.prune_schedule == "one_shot":
            prune_owned(model, self.masks, {phase.task}, self.cfg.prune)
        elif phase.mode == "final":
            self.masks.count(set(range(1, self.cfg.k + 1)))
        for group in trainer.optimizer.param_groups:  # decay is applied by hand, to trainable weights only
            group["weight_decay"] = 0.0
        if self.cfg.linear_probe and phase.mode == "final":
            head = set(map(id, model.get_classifier().parameters()))
            for p in model.parameters():
                p.requires_grad_(id(p) in head)

    def on_train_mode(self, trainer: Trainer) -> None:
        if self.cfg.linear_probe and self.phase.mode == "final":
            for module in trainer.model.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def after_backward(self, trainer: Trainer) -> None:
        self.masks.mask_gradients(trainer.model, self.tasks, self.weight_decay)
        head = trainer.model.get_classifier()
        if head.weight.grad is not None:
            head.weight.grad.add_(head.weight.detach(), alpha=self.weight_decay)

    def after_step(self, trainer: Trainer) -> None:
        mode = self.phase.mode
        gradual = (mode == "train" and self.cfg.prune_schedule == "gradual" and self.cfg.prune > 0) or (
            mode == "final" and self.cfg.final_sparsity > 0 and self.tasks
        )
        if not gradual:
            return
        total = self.phase.epochs * trainer.steps_per_epoch
        every = max(total // 20, 1)  # about twenty pruning steps, the last at the end
        if trainer.step % every == 0 or trainer.step == total:
            final = self.cfg.prune if mode == "train" else self.cfg.final_sparsity
            # reach the final sparsity at 80% of the phase, then train the pruned network
            prune_owned(trainer.model, self.masks, self.tasks, cubic_sparsity(trainer.step / (0.8 * total), 0.0, final))
            self._clear_momentum(trainer)

    @torch.no_grad()
    def _clear_momentum(self, trainer: Trainer) -> None:
        """Pruned weights keep no momentum, so they stay exactly zero."""
        for name, weight in prunable_weights(trainer.model):
            buffer = trainer.optimizer.state.get(weight, {}).get("momentum_buffer")
            if buffer is not None:
                buffer.masked_fill_((self.masks.owner[name] == 0).to(buffer.device), 0.0)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return self.masks.state_tensors()

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if tensors:
            self.masks.load_state_tensors(tensors)


def _phase_recipe(recipe: Recipe, phase: Phase) -> Recipe:
    return dataclasses.replace(
        recipe,
        name=f"{recipe.name}/{phase.name}",
        schedule=dataclasses.replace(recipe.schedule, epochs=phase.epochs),
        eval=dataclasses.replace(recipe.eval, select_metric="last"),
        decouple=dataclasses.replace(recipe.decouple, method=None),
        sampler="instance",
    )


def layer_sparsity(masks: OwnershipMasks) -> dict[str, dict[str, float]]:
    """Per layer: share of weights owned by each task, and free (pruned)."""
    out = {}
    for name, owner in masks.owner.items():
        values = torch.bincount(owner.flatten().long(), minlength=int(owner.max()) + 1).tolist()
        out[name] = {("free" if t == 0 else f"task{t}"): v / owner.numel() for t, v in enumerate(values)}
    return out


def run_dbl(recipe: Recipe, out_dir: Path, *, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the whole DBL pipeline into ``out_dir``; returns the summary."""
    cfg = recipe.dbl
    out_dir = Path(out_dir)
    state_path = out_dir / "dbl_state.safetensors"
    if state_path.exists() and not resume:
        raise BalancedFerError(
            f"{out_dir} already holds a DBL run; pass --resume to continue it or choose another --out"
        )
    if resume:
        remove_partial_saves(out_dir)
    data = load_training_data(recipe, progress=progress)
    subsets = balanced_subsets(
        data.train_labels,
        cfg.k,
        target=cfg.target,
        divisors=cfg.divisors,
        max_upsample=cfg.max_upsample,
        seed=recipe.seed,
    )
    template = create_model(
        recipe.model.name, len(data.class_names), in_chans=recipe.data.channels, **recipe.model.kwargs
    )
    masks = OwnershipMasks(template)
    done: list[str] = []
    if state_path.exists():
        tensors, _, state = load_training_state(state_path)
        masks.load_state_tensors(tensors)
        done = state["completed"]
    start: Path | None = None  # each phase starts from the previous one's model
    history = []
    for phase in phases(recipe):
        folder = out_dir / phase.name
        if phase.name not in done:
            rows = subsets[phase.task - 1].indices if phase.mode != "final" else None
            hooks = PhaseHooks(recipe, phase, masks, rows, start)
            Trainer(
                _phase_recipe(recipe, phase),
                folder,
                resume=(folder / "last.safetensors").exists(),
                progress=progress,
                hooks=hooks,
            ).fit()
            done.append(phase.name)
            save_checkpoint(state_path, masks.state_tensors(), state={"completed": done, "recipe": recipe.to_dict()})
        summary = json.loads((folder / "summary.json").read_text())
        history.append(
            {
                "phase": phase.name,
                "task_share": masks.share(phase.task) if phase.mode != "final" else None,
                "validation": summary["validation"],
                "train_seconds": summary["train_seconds"],
            }
        )
        start = folder / "final.safetensors"
    return _export(recipe, out_dir, start, masks, subsets, history)


def _export(recipe: Recipe, out_dir: Path, last: Path, masks: OwnershipMasks, subsets, history) -> dict[str, Any]:
    """The final stage's model as a plain dense checkpoint, with its validation report."""
    tensors, description = load_checkpoint(last)
    dbl = {
        "subsets": [{"counts": s.counts, "imbalance_ratio": s.imbalance_ratio} for s in subsets],
        "phases": history,
        "layer_sparsity": layer_sparsity(masks),
    }
    description = description.replace(
        recipe=recipe.to_dict(), provenance=dataclasses.replace(description.provenance, dbl=dbl)
    )
    final = save_checkpoint(out_dir / "final.safetensors", tensors, description)
    shutil.copytree(last.parent / "eval", out_dir / "eval", dirs_exist_ok=True)  # the final stage's report
    reports = evaluation_paths(out_dir / "eval", "val")
    summary = {
        "recipe": recipe.name,
        "checkpoint": str(final),
        "phases": history,
        "validation": history[-1]["validation"],
        "train_seconds": round(sum(h["train_seconds"] for h in history), 1),
        "reports": {k: str(v) for k, v in reports.items()},
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
