"""Record what a program did, call by call, without touching its code.

While a `Recorder` is active it listens through PyTorch's own global hooks (module forward
hooks, optimizer step hooks) and wraps a few torch entry points (``torch.autograd.backward``,
``Optimizer.zero_grad`` and ``Module.zero_grad`` (Lightning zeroes the model's gradients at the
start of every stage and before each validation), ``Module.train``, gradient clipping, scheduler steps, ``torch.save`` /
``torch.load``) for the calls that matter in training. Each recorded call notes the model's mode,
the grad mode, and who made the call: the program's own function (``training_step``, ``run``) and,
for Lightning and Fabric, the framework function nearest to the call.

After every optimizer step the recorder adds a line to the *parity ledger*: the loss of the
last backward and a digest of the parameters. A recorder given the reference's ledger (and its
parameter snapshots) compares as it goes and keeps the first step where the runs part, the
tensor that differs most there and by how much.

Recording changes nothing the program computes: it reads tensors and never draws random numbers
(the worker checks that a traced run ends with the same weights as the logged run).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch

FRAMEWORK_PACKAGES = ("pytorch_lightning", "lightning_fabric", "lightning")
SNAPSHOT_BUDGET_BYTES = 256 * 2**20
"""Parameter snapshots the reference keeps in memory, to say by how much another run differs."""


def grad_mode() -> str:
    if torch.is_inference_mode_enabled():
        return "inference_mode"
    return "grad" if torch.is_grad_enabled() else "no_grad"


def _digest(tensors: list[torch.Tensor]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().to("cpu", copy=True).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


WRAPPER_PREFIXES = ("_forward_module.", "_original_module.", "_orig_mod.", "module.")
"""What wrappers put before a parameter's name (Fabric's module, torch.compile, DDP)."""


WRAPPED_MODULES = ("_forward_module", "module", "_orig_mod")
"""Where a wrapper keeps the module it wraps (Fabric's and Lightning's wrappers, DDP, torch.compile)."""


def _innermost(module: torch.nn.Module) -> torch.nn.Module:
    """The module a chain of wrappers wraps: its mode is the one the training sets (Lightning's
    validation hooks switch the DDP wrapper to eval and restore only the LightningModule's modes)."""
    for _ in range(8):
        inner = next((m for name in WRAPPED_MODULES if isinstance(m := module._modules.get(name), torch.nn.Module)),
                     None)
        if inner is None:
            break
        module = inner
    return module


def _unwrapped(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if name.startswith(prefix):
                name, changed = name[len(prefix):], True
    return name


class Recorder:
    """Records calls and the parity ledger of one program's run (see the module).

    Args:
        program_file: the program's path, to name the program's own function behind each call.
        reference: the ledger of the reference run, to compare with as steps happen.
        keep_snapshots: keep a copy of the parameters after every step (the reference does).
    """

    def __init__(self, program_file: Path, reference: "Recorder | None" = None, keep_snapshots: bool = False):
        self.program_file = str(Path(program_file).resolve())
        self.reference = reference
        self.keep_snapshots = keep_snapshots
        self.events: list[dict] = []
        self.ledger: list[dict] = []
        self.snapshots: list[list[torch.Tensor]] = []
        self.names: list[str] = []
        self.first_divergence: dict | None = None
        self._snapshot_bytes = 0
        self._forward_depth = 0
        self._train_depth = 0
        self._top_modules: dict[int, torch.nn.Module] = {}
        self._last_loss: float | None = None
        self._undo: list = []

    # -- who called --------------------------------------------------------------------------
    def _callers(self) -> tuple[str | None, int | None, str | None]:
        """The program's function nearest to the call (and its line), and the framework's
        function nearest to it."""
        by = line = via = None
        frame = sys._getframe(2)
        while frame is not None and (by is None or via is None):
            filename = frame.f_code.co_filename.replace("\\", "/")
            if by is None and filename == self.program_file:
                by, line = frame.f_code.co_name, frame.f_lineno
            elif via is None and any(f"/{p}/" in filename for p in FRAMEWORK_PACKAGES):
                module = filename.rsplit("-packages/", 1)[-1][:-len(".py")].replace("/", ".")
                via = f"{module}.{frame.f_code.co_name}"
            frame = frame.f_back
        return by, line, via

    def _add(self, op: str, **detail) -> None:
        by, line, via = self._callers()
        event = {"op": op, "by": by, "line": line, "via": via, "grad": grad_mode(), **detail}
        self.events.append(event)

    # -- hooks -------------------------------------------------------------------------------
    def _forward_pre(self, module, args):
        if self._forward_depth == 0 and any(True for _ in module.parameters()):  # a model, not a loss
            self._top_modules.setdefault(id(module), module)
            mode = "train" if _innermost(module).training else "eval"
            self._add("forward", module=type(module).__name__, mode=mode)
        self._forward_depth += 1

    def _forward_post(self, module, args, output):
        self._forward_depth = max(0, self._forward_depth - 1)

    def _step_post(self, optimizer, args, kwargs):
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self._add("optimizer.step", optimizer=type(optimizer).__name__,
                  lr=float(optimizer.param_groups[0]["lr"]))
        self._ledger_line(params)

    def _ledger_line(self, params: list[torch.Tensor]) -> None:
        step = len(self.ledger) + 1
        if not self.names:
            self.names = self._parameter_names(params)
        line = {"step": step, "loss": self._last_loss, "digest": _digest(params)}
        self.ledger.append(line)
        if self.keep_snapshots:
            size = sum(p.numel() * p.element_size() for p in params)
            if self._snapshot_bytes + size <= SNAPSHOT_BUDGET_BYTES:
                self.snapshots.append([p.detach().to("cpu", copy=True) for p in params])
                self._snapshot_bytes += size
        reference = self.reference
        if reference is None or self.first_divergence is not None:
            return
        if step > len(reference.ledger):
            self.first_divergence = {"step": step, "tensor": "(steps)", "value": float("inf"),
                                     "note": f"the reference took {len(reference.ledger)} steps"}
            return
        if reference.ledger[step - 1]["digest"] == line["digest"]:
            return
        divergence = {"step": step, "tensor": "(parameters)", "value": float("nan")}
        if step - 1 < len(reference.snapshots):
            ref = reference.snapshots[step - 1]
            if len(ref) == len(params):
                diffs = [float((a.double() - b.detach().cpu().double()).abs().max()) if a.shape == b.shape
                         else float("inf") for a, b in zip(ref, params)]
                worst = max(range(len(diffs)), key=diffs.__getitem__)
                names = reference.names or [f"parameter {i}" for i in range(len(ref))]
                divergence.update(tensor=names[worst] if worst < len(names) else f"parameter {worst}",
                                  value=diffs[worst])
        self.first_divergence = divergence

    # -- wrapped entry points ----------------------------------------------------------------
    def _wrap(self, owner, name: str, make) -> None:
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        self._undo.append(lambda: setattr(owner, name, original))

    def __enter__(self) -> "Recorder":
        from torch.nn.modules import module as nn_module
        from torch.optim import lr_scheduler, optimizer

        handles = [nn_module.register_module_forward_pre_hook(self._forward_pre),
                   nn_module.register_module_forward_hook(self._forward_post),
                   optimizer.register_optimizer_step_post_hook(self._step_post)]
        self._undo.extend(h.remove for h in handles)
        recorder = self

        def backward(original):
            def wrapped(tensors, *args, **kwargs):
                loss = tensors[0] if isinstance(tensors, (list, tuple)) else tensors
                if isinstance(loss, torch.Tensor) and loss.numel() == 1:
                    recorder._last_loss = float(loss.detach())
                recorder._add("backward", loss=recorder._last_loss)
                return original(tensors, *args, **kwargs)
            return wrapped

        def zero_grad(original):
            def wrapped(opt, *args, **kwargs):
                recorder._add("zero_grad", optimizer=type(opt).__name__)
                return original(opt, *args, **kwargs)
            return wrapped

        def train(original):
            def wrapped(module, mode=True):
                if recorder._train_depth == 0 and any(True for _ in module.parameters()):
                    recorder._add("train" if mode else "eval", module=type(module).__name__)
                recorder._train_depth += 1
                try:
                    return original(module, mode)
                finally:
                    recorder._train_depth -= 1
            return wrapped

        def clip(kind, keyword):
            def make(original):
                def wrapped(parameters, *args, **kwargs):
                    limit = args[0] if args else kwargs.get(keyword)  # max_norm= / clip_value= by keyword too
                    recorder._add("clip_grad", kind=kind, limit=None if limit is None else float(limit))
                    return original(parameters, *args, **kwargs)
                return wrapped
            return make

        def module_zero_grad(original):
            def wrapped(module, *args, **kwargs):
                if recorder._train_depth == 0:
                    recorder._add("zero_grad", module=type(module).__name__)
                recorder._train_depth += 1  # a module's zero_grad is one call, not one per submodule
                try:
                    return original(module, *args, **kwargs)
                finally:
                    recorder._train_depth -= 1
            return wrapped

        def scheduler_step(original):
            def wrapped(sched, *args, **kwargs):
                initial = getattr(sched, "_step_count", 1) == 0  # the step a scheduler takes when built
                result = original(sched, *args, **kwargs)
                if not initial:
                    recorder._add("scheduler.step", scheduler=type(sched).__name__,
                                  lr=float(sched.optimizer.param_groups[0]["lr"]))
                return result
            return wrapped

        def save_or_load(op):
            def make(original):
                def wrapped(*args, **kwargs):
                    recorder._add(op)
                    return original(*args, **kwargs)
                return wrapped
            return make

        self._wrap(torch.autograd, "backward", backward)
        self._wrap(optimizer.Optimizer, "zero_grad", zero_grad)
        self._wrap(torch.nn.Module, "train", train)
        self._wrap(torch.nn.Module, "zero_grad", module_zero_grad)
        self._wrap(torch.nn.utils, "clip_grad_norm_", clip("norm", "max_norm"))
        self._wrap(torch.nn.utils, "clip_grad_value_", clip("value", "clip_value"))
        self._wrap(lr_scheduler.LRScheduler, "step", scheduler_step)
        self._wrap(lr_scheduler.ReduceLROnPlateau, "step", scheduler_step)
        self._wrap(torch, "save", save_or_load("torch.save"))
        self._wrap(torch, "load", save_or_load("torch.load"))
        return self

    def __exit__(self, *exc) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def _parameter_names(self, params: list[torch.Tensor]) -> list[str]:
        """Names of the stepped parameters, from the outermost module the program called."""
        named: dict[int, str] = {}
        for module in self._top_modules.values():
            for name, parameter in module.named_parameters():
                named.setdefault(id(parameter), name)
        return [_unwrapped(named.get(id(p), f"parameter {i}")) for i, p in enumerate(params)]

    def report(self) -> dict:
        """The trace and the ledger, JSON-ready."""
        return {"events": self.events, "ledger": self.ledger, "first_divergence": self.first_divergence}
