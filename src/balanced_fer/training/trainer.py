"""The training loop: recipe in, best-on-validation checkpoint, metric log and curves out.

Determinism: every epoch draws its sample order from ``(seed, epoch)`` and re-seeds torch's
generators from ``(seed, epoch, rank)``, so a run resumed from its last end-of-epoch state ends
with the same weights as an uninterrupted one (same machine, same software).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from ..data import FaceArrays, load_arrays, open_dataset
from ..data.augment import augment_batch, mix_batch, to_float, view_draws
from ..data.folds import assign_folds
from ..errors import BalancedFerError
from ..evaluation import Evaluation, evaluate_predictions, save_evaluation
from ..imbalance import adjust_logits, build_loss, epoch_indices, sampler_prior_removed
from ..models import Architecture, ModelDescription, Preprocessing, Provenance, create_model, predict_logits
from ..models.checkpoint import (
    flatten_state,
    git_commit,
    load_model,
    load_training_state,
    remove_partial_saves,
    save_checkpoint,
    unflatten_state,
)
from .distill import (
    LiveTeachers,
    TargetViews,
    check_labels,
    decoupled_distillation_loss,
    distillation_loss,
    load_soft_targets,
    soft_targets_views,
    soften,
    teacher_log_probs,
)
from .distributed import DistEnv, barrier, init_distributed, shutdown
from .label_issues import find_label_issues
from .recipe import DEVICES, Recipe
from .schedule import learning_rate, warmup_share

log = logging.getLogger("balanced_fer")


@dataclass
class TrainingData:
    """Training and validation arrays with the class names and training counts."""

    train: FaceArrays
    train_index: np.ndarray  # rows of ``train`` used (all, a per-class limit, or all but a held-out fold)
    val: FaceArrays
    class_names: tuple[str, ...]

    @property
    def train_labels(self) -> np.ndarray:
        return self.train.labels[self.train_index]

    @property
    def train_counts(self) -> list[int]:
        return np.bincount(self.train_labels, minlength=len(self.class_names)).tolist()


def load_training_data(recipe: Recipe, progress: bool = True) -> TrainingData:
    """Open and cache the recipe's training and validation splits."""
    cfg = recipe.data
    train_set = open_dataset(cfg.train, **cfg.options)
    val_set = open_dataset(cfg.val, **cfg.options) if cfg.val else train_set
    if val_set.class_names != train_set.class_names:
        raise BalancedFerError(
            f"validation classes {val_set.class_names} differ from training classes {train_set.class_names}"
        )
    if cfg.val_split == "test":
        raise BalancedFerError("data.val_split is 'test': select models on validation data, never on a test split")
    train = load_arrays(train_set, cfg.train_split, cfg.size, cfg.channels, progress=progress)
    val = load_arrays(val_set, cfg.val_split, cfg.size, cfg.channels, progress=progress)
    index = np.arange(len(train))
    if cfg.limit_per_class:
        index = np.concatenate(
            [np.flatnonzero(train.labels == c)[: cfg.limit_per_class] for c in range(len(train.class_names))]
        )
        index.sort()
    if cfg.held_out_fold is not None:
        index = index[assign_folds(train.labels, cfg.folds)[index] != cfg.held_out_fold]
    if cfg.drop_label_issues:
        flagged = find_label_issues(cfg.drop_label_issues, train.labels)[index]
        counts = np.bincount(train.labels[index][flagged], minlength=len(train.class_names)).tolist()
        per_class = ", ".join(f"{name} {count}" for name, count in zip(train.class_names, counts))
        log.info("left out %d faces flagged as mislabelled by %s (%s)", flagged.sum(), cfg.drop_label_issues, per_class)
        index = index[~flagged]
    return TrainingData(train, index, val, train_set.class_names)


def evaluate_on_validation(
    model: nn.Module,
    data: TrainingData,
    recipe: Recipe,
    preprocessing: Preprocessing,
    *,
    tau: float = 0.0,
    device: str | torch.device = "cpu",
    bootstrap_rounds: int = 200,
) -> Evaluation:
    """``model``'s figures on the recipe's validation faces, scored as deployed: with the recipe's
    test-time augmentation and the post-hoc adjustment ``tau``."""
    logits = predict_logits(
        model,
        data.val.images,
        preprocessing,
        device=device,
        batch_size=recipe.eval.batch_size,
        tta=recipe.eval.tta,
        channels_last=recipe.channels_last,
    )
    if tau:
        logits = adjust_logits(logits, np.asarray(data.train_counts) / sum(data.train_counts), tau)
    return evaluate_predictions(
        data.val.labels,
        data.class_names,
        probabilities=torch.softmax(logits, 1).numpy(),
        train_counts=data.train_counts,
        bootstrap_rounds=bootstrap_rounds,
        seed=recipe.seed,
    )


def build_optimizer(recipe: Recipe, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov) or AdamW; no weight decay on BatchNorm and bias parameters."""
    cfg = recipe.optim
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    raise BalancedFerError(f"unknown optimiser {cfg.name!r} (sgd or adamw)")


def runs_bf16_natively(device: torch.device) -> bool:
    """Whether bf16 autocast speeds training up here: CUDA, or a CPU with AVX512-BF16 or AMX instructions
    (about twice the fp32 speed for these convolutions); elsewhere bf16 is emulated and slower."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_device(name: str) -> torch.device:
    """The torch device a recipe's or a command's ``device`` (one of DEVICES) names here."""
    if name not in DEVICES:
        raise BalancedFerError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BalancedFerError("device 'cuda' was asked for, but this machine has no CUDA device")
    return torch.device(name)


@dataclass(frozen=True)
class Teaching:
    """What a student learns from besides its labels, if distilling: the teachers' log-probabilities
    on every training face (rows of ``data.train``; (rows, epochs, K) when the targets file holds
    ``views``: each epoch's view of each face), or the live teachers themselves; and the teachers'
    ``trained_prior_weight``."""

    scores: torch.Tensor | None = None
    live: LiveTeachers | None = None
    views: TargetViews | None = None
    prior_weight: float = 0.0

    @property
    def active(self) -> bool:
        return self.scores is not None or self.live is not None


class TrainerHooks:
    """Extension points for procedures built on the loop (DBL): no-ops by default."""

    def prepare_data(self, data: TrainingData) -> None:
        """Change the training rows (``data.train_index``) before the loss sees the class counts."""

    def on_setup(self, trainer: Trainer) -> None:
        """Model, loss and optimiser exist; a resumed state is loaded after this."""

    def on_train_mode(self, trainer: Trainer) -> None:
        """Called after the model is put in training mode at each epoch start."""

    def after_backward(self, trainer: Trainer) -> None:
        """Gradients exist; the optimiser has not stepped."""

    def after_step(self, trainer: Trainer) -> None:
        """The optimiser stepped (``trainer.step`` counts steps)."""

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Extra tensors saved with every training state."""
        return {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_tensors` saved."""


class Trainer:
    """Runs one recipe into ``out_dir``: ``last.safetensors`` (resumable state, every epoch),
    ``best.safetensors`` (best validation ``eval.select_metric``), ``metrics.jsonl``, ``curves.png``,
    ``recipe.yaml`` (resolved), and the best model's validation report in ``eval/``."""

    def __init__(
        self,
        recipe: Recipe,
        out_dir: Path,
        *,
        resume: bool = False,
        progress: bool = True,
        hooks: TrainerHooks | None = None,
    ):
        self.recipe, self.out_dir, self.resume = recipe, Path(out_dir), resume
        self.hooks = hooks or TrainerHooks()
        self.device = resolve_device(recipe.device)
        self.env: DistEnv = init_distributed(self.device.type)
        if self.env.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.env.local_rank)
        self.progress = progress and self.env.is_main
        self.last_path, self.best_path = self.out_dir / "last.safetensors", self.out_dir / "best.safetensors"
        if self.last_path.exists() and not resume:
            raise BalancedFerError(
                f"{self.out_dir} already holds a run; pass --resume to continue it or choose another --out"
            )

    # ---- set-up -------------------------------------------------------------------------------
    def _setup(self) -> None:
        r = self.recipe
        if not self.env.is_main:
            barrier(self.env)  # wait while rank 0 builds the array cache, then read it
        self.data = load_training_data(r, progress=self.progress and self.env.is_main)
        if self.env.is_main:
            barrier(self.env)
        self.hooks.prepare_data(self.data)
        self.num_classes = len(self.data.class_names)
        self.model_kwargs = dict(r.model.kwargs)
        torch.manual_seed(r.seed)  # the initial weights
        model = create_model(
            r.model.name, self.num_classes, in_chans=r.data.channels, pretrained=r.model.pretrained, **self.model_kwargs
        )
        self.memory_format = torch.channels_last if r.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.loss_fn = build_loss(r.loss.name, self.data.train_counts, **r.loss.kwargs).to(self.device)
        self.preprocessing = r.data.preprocessing
        self.teaching = self._teaching()
        self.optimizer = build_optimizer(r, self.model)
        self.batch = r.optim.batch_size // self.env.world_size
        if self.batch < 1 or r.optim.batch_size % self.env.world_size:
            raise BalancedFerError(
                f"optim.batch_size {r.optim.batch_size} must be a multiple of {self.env.world_size} processes"
            )
        self.steps_per_epoch = len(self.data.train_index) // r.optim.batch_size
        if self.steps_per_epoch == 0:
            raise BalancedFerError(
                f"{len(self.data.train_index)} training faces are fewer than one batch of {r.optim.batch_size}"
            )
        self.epoch, self.step, self.history = 0, 0, []
        self.best: dict[str, Any] = {"metric": -1.0, "epoch": None}
        self.hooks.on_setup(self)  # before DDP wraps the model, which broadcasts rank 0's weights
        self.net = DistributedDataParallel(self.model) if self.env.enabled else self.model
        self.ema = (  # an exponential moving average of the weights (and BatchNorm statistics), if asked
            AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(r.optim.ema), use_buffers=True)
            if r.optim.ema
            else None
        )
        self.use_amp = r.amp and runs_bf16_natively(self.device)
        images = self.data.train.images
        self.train_images = (
            torch.from_numpy(np.array(images)).to(self.device)
            if self.device.type == "cuda" and images.nbytes < 4 * 2**30
            else images
        )
        self.train_labels = torch.from_numpy(self.data.train.labels).to(self.device)

    def _restore(self) -> None:
        tensors, description, state = load_training_state(self.last_path)
        if description is None or description.recipe != self.recipe.to_dict():
            raise BalancedFerError(
                f"{self.last_path}: the run was started with another recipe; resume with the same one"
            )
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if self.ema is not None:
            self.ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        self.hooks.load_state_tensors({k[6:]: v for k, v in tensors.items() if k.startswith("hooks.")})
        self.optimizer.load_state_dict(unflatten_state(state["optimizer"], tensors))
        self.epoch, self.step, self.history, self.best = state["epoch"], state["step"], state["history"], state["best"]
        if self.env.is_main:
            log.warning("resuming %s after epoch %d of %d", self.out_dir, self.epoch, self.recipe.schedule.epochs)

    def _teaching(self) -> Teaching:
        """The recipe's ``distill`` section made ready: live teachers, a targets file (of views or
        not) checked against this recipe, or the teachers' scores on the training faces, made now."""
        cfg = self.recipe.distill
        if cfg.live:
            live = LiveTeachers(
                cfg.teachers, self.data.class_names, self.preprocessing, tta=cfg.tta, device=self.device
            )
            return Teaching(live=live, prior_weight=live.prior_weight)
        views = None
        if cfg.targets:
            log_probs, prior_weight = load_soft_targets(cfg.targets, self.data.train.labels)
            views = soft_targets_views(cfg.targets)
            problem = views and views.mismatch(self.preprocessing, self.recipe.augment)
            if problem:
                raise BalancedFerError(f"{cfg.targets}: not views this recipe makes: {problem}")
        elif cfg.teachers:
            data = self.recipe.data
            dataset = open_dataset(data.train, **data.options)
            log_probs, labels, prior_weight = teacher_log_probs(
                cfg.teachers,
                dataset,
                data.train_split,
                tta=cfg.tta,
                held_out=cfg.held_out,
                device=self.device,
                progress=self.progress,
            )
            check_labels(labels, self.data.train.labels, "the teachers' training faces")
        else:
            return Teaching()
        return Teaching(scores=log_probs.to(self.device), views=views, prior_weight=prior_weight)

    def _trained_prior_weight(self) -> float:
        """The training prior the scores follow: the labels' share after what the loss and sampler
        remove, blended with the teachers' by the distillation weight."""
        labels = 1.0 - self.loss_fn.prior_removed - sampler_prior_removed(self.recipe.sampler)
        if not self.teaching.active:
            return labels
        alpha = self.recipe.distill.alpha
        return (1 - alpha) * labels + alpha * self.teaching.prior_weight

    @property
    def deployed(self) -> nn.Module:
        """The weights validated and saved: the moving average when ``optim.ema`` is on."""
        return self.ema.module if self.ema is not None else self.model

    # ---- checkpoints --------------------------------------------------------------------------
    def describe(self, validation: Evaluation | None, epoch: int) -> ModelDescription:
        """The model file's description of the model as it stands after ``epoch``."""
        r = self.recipe
        return ModelDescription(
            architecture=Architecture(r.model.name, self.num_classes, r.data.channels, self.model_kwargs),
            class_names=self.data.class_names,
            preprocessing=self.preprocessing,
            train_counts=tuple(self.data.train_counts),
            trained_prior_weight=self._trained_prior_weight(),
            post_hoc_tau=r.post_hoc.tau,
            tta=r.eval.tta,  # what validation used, and prediction uses unless told otherwise
            validation={"float": validation.summary()} if validation else {},
            recipe=r.to_dict(),
            provenance=Provenance(git_commit=git_commit(), epoch=epoch),
        )

    def _save_state(self) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.ema is not None:
            tensors |= {f"ema.{k}": v for k, v in self.ema.state_dict().items()}
        tensors |= {f"hooks.{k}": v for k, v in self.hooks.state_tensors().items()}
        optimizer = flatten_state("optim", self.optimizer.state_dict(), tensors)
        state = {
            "optimizer": optimizer,
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "best": self.best,
        }
        save_checkpoint(self.last_path, tensors, self.describe(None, self.epoch), state)

    # ---- loop ---------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        r = self.recipe
        self._setup()
        if self.resume and self.env.is_main:
            remove_partial_saves(self.out_dir)
        if self.resume and self.last_path.exists():
            self._restore()
        if self.env.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "recipe.yaml").write_text(yaml.safe_dump(r.to_dict(), sort_keys=False))
        try:
            while self.epoch < r.schedule.epochs:
                row = self._train_epoch(self.epoch)
                self.epoch += 1
                if self.env.is_main:
                    self._validate_and_save(row)
                barrier(self.env)
            summary = self._finish() if self.env.is_main else {}
        finally:
            shutdown(self.env)
        return summary

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        r = self.recipe
        torch.manual_seed(r.seed * 1_000_003 + epoch * 1009 + self.env.rank)
        views = self.teaching.views
        if views is not None:  # the views the targets scored; they repeat after the file's epochs
            self.view_epoch = epoch % views.epochs
            self.view_draws = view_draws(views.seed, self.view_epoch, len(self.data.train.labels))
        self.loss_fn.set_epoch(epoch)
        order = epoch_indices(self.data.train_labels, r.sampler, epoch, r.schedule.epochs, r.seed)
        order = self.data.train_index[order]
        self.net.train()
        self.hooks.on_train_mode(self)
        total_loss, seen, start = 0.0, 0, time.perf_counter()
        bar = tqdm(
            range(self.steps_per_epoch),
            desc=f"epoch {epoch + 1}/{r.schedule.epochs}",
            unit="batch",
            disable=not self.progress,
            leave=False,
        )
        for step_in_epoch in bar:
            lo = step_in_epoch * r.optim.batch_size + self.env.rank * self.batch
            idx = np.sort(order[lo : lo + self.batch])
            loss = self._train_step(idx)
            total_loss += loss * len(idx)
            seen += len(idx)
            if step_in_epoch % 10 == 0:
                bar.set_postfix(
                    loss=f"{total_loss / seen:.3f}",
                    img_s=f"{seen * self.env.world_size / (time.perf_counter() - start):.0f}",
                )
        seconds = time.perf_counter() - start
        return {
            "epoch": epoch + 1,
            "train_loss": total_loss / max(seen, 1),
            "lr": self.optimizer.param_groups[0]["lr"],
            "seconds": round(seconds, 2),
            "images_per_s": round(seen * self.env.world_size / seconds, 1),
        }

    def _taught(
        self, x: torch.Tensor, rows: torch.Tensor, perm: torch.Tensor | None, lam: float
    ) -> torch.Tensor | None:
        """The teachers' probabilities (at the distillation temperature) for a batch, if distilling."""
        temperature = self.recipe.distill.temperature
        teaching = self.teaching
        if teaching.live is not None:  # they score the batch the student sees, mixed or not
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.use_amp):
                return soften(teaching.live(x).float(), temperature)
        if teaching.scores is None:
            return None
        scores = teaching.scores[rows] if teaching.views is None else teaching.scores[rows, self.view_epoch]
        taught = soften(scores, temperature)
        if perm is not None:  # a mixed image is taught the same mix of its sources' targets
            taught = lam * taught + (1 - lam) * taught[perm]
        return taught

    def _with_teachers(
        self, loss: torch.Tensor, logits: torch.Tensor, taught: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """The labels' loss mixed with the teachers' term (``distill.alpha`` of it once warmed up)."""
        cfg = self.recipe.distill
        if cfg.loss == "dkd":
            teachers = decoupled_distillation_loss(logits, taught, targets, cfg.temperature, cfg.nckd_weight)
        else:
            teachers = distillation_loss(logits, taught, cfg.temperature)
        share = warmup_share(self.step, self.steps_per_epoch, cfg.warmup_epochs)
        return (1 - cfg.alpha) * loss + share * cfg.alpha * teachers

    def _train_step(self, idx: np.ndarray) -> float:
        r = self.recipe
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(r, self.step, self.steps_per_epoch)
        rows = torch.as_tensor(idx, device=self.device)
        images = (
            self.train_images[rows]
            if isinstance(self.train_images, torch.Tensor)
            else torch.from_numpy(self.train_images[idx]).to(self.device, non_blocking=True)
        )
        targets = self.train_labels[rows]
        draws = None if self.teaching.views is None else self.view_draws[torch.from_numpy(idx)]
        x = augment_batch(
            to_float(images, self.preprocessing.mean, self.preprocessing.std), r.data.input_size, r.augment, draws
        )
        x, perm, lam = mix_batch(x, r.augment)
        x = x.contiguous(memory_format=self.memory_format)
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.use_amp):
            logits = self.net(x).float()
        loss = self.loss_fn(logits, targets)
        if perm is not None:
            loss = lam * loss + (1 - lam) * self.loss_fn(logits, targets[perm])
        taught = self._taught(x, rows, perm, lam)
        if taught is not None:
            loss = self._with_teachers(loss, logits, taught, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.hooks.after_backward(self)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.step += 1
        self.hooks.after_step(self)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise BalancedFerError(f"training diverged (loss {value}) at step {self.step}; lower optim.lr")
        return value

    def evaluate_model(self, model: nn.Module, tau: float = 0.0, bootstrap_rounds: int = 200) -> Evaluation:
        return evaluate_on_validation(
            model,
            self.data,
            self.recipe,
            self.preprocessing,
            tau=tau,
            device=self.device,
            bootstrap_rounds=bootstrap_rounds,
        )

    def _validate_and_save(self, row: dict[str, Any]) -> None:
        # Scored as deployed: with the recipe's post-hoc adjustment, so selection sees the same figures.
        result = self.evaluate_model(self.deployed, tau=self.recipe.post_hoc.tau)
        metric_name = self.recipe.eval.select_metric
        metric = float(self.epoch) if metric_name == "last" else getattr(result, metric_name, None)
        if not isinstance(metric, float):
            raise BalancedFerError(f"eval.select_metric {metric_name!r} is not a scalar validation figure")
        row |= {f"val_{k}": v for k, v in result.summary().items()}
        row["best"] = metric > self.best["metric"]
        if row["best"]:
            self.best = {"metric": metric, "epoch": self.epoch, "name": metric_name}
            tensors = dict(self.deployed.state_dict())
            save_checkpoint(self.best_path, tensors, self.describe(result, self.epoch))
        self.history.append(row)
        self._save_state()
        _write_jsonl(self.out_dir / "metrics.jsonl", self.history)
        plot_curves(self.history, self.out_dir / "curves.png", self.recipe.name)
        recall = result.summary()["recall"]
        worst = min(recall, key=recall.get)
        best = self.best["epoch"]
        log.info(
            "%s epoch %d/%d (%.0f s): loss %.4f, val accuracy %.2f%%, MCA %.2f%%, worst class %s %.1f%%; best so far: epoch %d%s",
            self.recipe.name,
            row["epoch"],
            self.recipe.schedule.epochs,
            row["seconds"],
            row["train_loss"],
            100 * result.accuracy,
            100 * result.mean_class_accuracy,
            worst,
            100 * recall[worst],
            best,
            "" if metric_name == "last" else f" ({metric_name} {100 * self.best['metric']:.2f}%)",
        )

    def _finish(self) -> dict[str, Any]:
        model, description = load_model(self.best_path, self.device)
        if self.recipe.decouple.method:
            from .rebalance import decouple_model  # it reads training data with this module's loader

            description = decouple_model(
                model,
                description,
                self.data.train.images[self.data.train_index],
                self.data.train_labels,
                self.recipe.decouple,
                device=self.device,
                seed=self.recipe.seed,
            )
        tau = self.recipe.post_hoc.tau
        result = self.evaluate_model(model, tau=tau, bootstrap_rounds=1000)
        description = description.replace(validation={"float": result.summary()})
        final = self.out_dir / "final.safetensors"
        save_checkpoint(final, dict(model.state_dict()), description)
        reports = save_evaluation(result, self.out_dir / "eval", stem="val", title=f"{self.recipe.name}: validation")
        summary = {
            "recipe": self.recipe.name,
            "best_epoch": self.best["epoch"],
            "checkpoint": str(final),
            "validation": result.summary(),
            "train_seconds": round(sum(h["seconds"] for h in self.history), 1),
            "reports": {k: str(v) for k, v in reports.items()},
        }
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))
    tmp.replace(path)


def curves_figure(history: list[dict[str, Any]], title: str):
    """Training loss and validation accuracy / mean class accuracy / macro-F1 per epoch (whole epochs on x)."""
    from matplotlib.figure import Figure  # no pyplot: the caller's matplotlib backend and state stay untouched
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    left.plot(epochs, [h["train_loss"] for h in history], marker=".")
    left.set_ylabel("training loss")
    for key, label in (
        ("val_accuracy", "accuracy"),
        ("val_mean_class_accuracy", "mean class accuracy"),
        ("val_macro_f1", "macro-F1"),
    ):
        right.plot(epochs, [100 * h[key] for h in history], marker=".", label=label)
    right.set_ylabel("validation %")
    right.legend()
    for axes in (left, right):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(history: list[dict[str, Any]], path: Path, title: str) -> None:
    """``curves_figure`` written to ``path`` (PNG) atomically."""
    fig = curves_figure(history, title)
    tmp = path.with_name(f".{path.name}")
    fig.savefig(tmp, dpi=110, format="png")
    tmp.replace(path)
