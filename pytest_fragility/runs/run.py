"""`Run`: one trained network with the data it saw, the object every measure reads."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

from pytest_fragility.runs.guard import fingerprint

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from pytest_fragility.families.recipe import Recipe


class RunSource(Protocol):
    """Where a lazily loaded run gets its tensors (the model cache implements it)."""

    def load_model(self) -> "torch.nn.Module": ...
    def load_init_model(self) -> "torch.nn.Module": ...
    def train_data(self) -> "tuple[torch.Tensor, torch.Tensor]": ...
    def test_data(self) -> "tuple[torch.Tensor, torch.Tensor]": ...


class Run:
    """One trained network: its model, initial model, training subset and test set.

    Build one by hand to measure any model (``pf.Run(model=net, x_train=x, y_train=y)``);
    runs of a family also carry ``m``, ``seed``, ``variant``, ``recipe`` and training
    records. Labels are class indices; a binary task has one logit and labels 0/1.
    Tensors of family runs are loaded on first access, so a run that is only read for
    its records never touches its weights.
    """

    def __init__(
        self,
        model: "torch.nn.Module | None" = None,
        x_train: "torch.Tensor | None" = None,
        y_train: "torch.Tensor | None" = None,
        x_test: "torch.Tensor | None" = None,
        y_test: "torch.Tensor | None" = None,
        init_model: "torch.nn.Module | None" = None,
        *,
        m: int | None = None,
        seed: int = 0,
        variant: str = "base",
        family: str | None = None,
        recipe: "Recipe | None" = None,
        train_error: float | None = None,
        test_error: float | None = None,
        train_loss: float | None = None,
        converged: bool = True,
        epochs: int | None = None,
        train_seconds: float | None = None,
        n_test: int | None = None,
        input_shape: tuple[int, ...] | None = None,
        key: str | None = None,
        data_fingerprint: str | None = None,
        source: RunSource | None = None,
    ) -> None:
        if source is None and model is None:
            raise TypeError("Run needs a model: pf.Run(model=net, x_train=x, y_train=y)")
        if x_train is not None and y_train is not None and len(x_train) != len(y_train):
            raise ValueError(
                f"x_train has {len(x_train)} rows but y_train has {len(y_train)}; "
                "they must describe the same examples"
            )
        if x_test is not None and y_test is not None and len(x_test) != len(y_test):
            raise ValueError(f"x_test has {len(x_test)} rows but y_test has {len(y_test)}")
        self._model = model
        self._init_model = init_model
        self._train = (x_train, y_train) if x_train is not None else None
        self._test = (x_test, y_test) if x_test is not None else None
        self._source = source
        self._m = m
        self.seed = seed
        self.variant = variant
        self.family = family
        self.recipe = recipe
        self.train_error = train_error
        self.test_error = test_error
        self.train_loss = train_loss
        self.converged = converged
        self.epochs = epochs
        self.train_seconds = train_seconds
        self._n_test = n_test
        self._input_shape = input_shape
        self.key = key
        self.data_fingerprint = data_fingerprint
        self._fingerprints: dict[str, Any] = {}  # of each part when loaded (see runs/guard.py)

    # -- tensors, loaded lazily for cached runs ---------------------------------
    @property
    def model(self) -> "torch.nn.Module":
        if self._model is None:
            self._model = self._loaded("model", self._require_source("model").load_model())
        return self._model

    @property
    def init_model(self) -> "torch.nn.Module | None":
        if self._init_model is None and self._source is not None:
            self._init_model = self._loaded("init_model", self._source.load_init_model())
        return self._init_model

    @property
    def x_train(self) -> "torch.Tensor":
        return self._train_pair()[0]

    @property
    def y_train(self) -> "torch.Tensor":
        return self._train_pair()[1]

    @property
    def x_test(self) -> "torch.Tensor | None":
        pair = self._test_pair()
        return None if pair is None else pair[0]

    @property
    def y_test(self) -> "torch.Tensor | None":
        pair = self._test_pair()
        return None if pair is None else pair[1]

    @property
    def m(self) -> int:
        """Training-set size (the learning-curve axis)."""
        if self._m is None:
            self._m = len(self.x_train)
        return self._m

    @property
    def n_test(self) -> int | None:
        """Size of the test set (known without loading it for family runs)."""
        if self._n_test is None and self._test is not None:
            self._n_test = len(self._test[0])
        return self._n_test

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Shape of one input example (known without loading the data for family runs)."""
        if self._input_shape is None and self._train is not None:
            self._input_shape = tuple(self._train[0].shape[1:])
        return self._input_shape

    @property
    def stop_reason(self) -> str:
        """Why training stopped: "fit" (the stopping rule was met), "diverged" (it was not,
        and the training loss is not finite) or "epoch-cap" (max_epochs came first)."""
        if self.converged:
            return "fit"
        if self.train_loss is not None and not math.isfinite(self.train_loss):
            return "diverged"
        return "epoch-cap"

    @property
    def device(self) -> "torch.device":
        return next(self.model.parameters()).device

    def release(self) -> bool:
        """Drop loaded tensors of a cached run (they reload on next access); False for a run
        built by hand, whose tensors stay (and are taken as they are now)."""
        self._fingerprints.clear()
        if self._source is None:
            return False
        self._model = self._init_model = None
        self._train = self._test = None
        return True

    def held(self) -> dict[str, Any]:
        """The parts this run holds in memory now (nothing is loaded to answer)."""
        parts = {"model": self._model, "init_model": self._init_model}
        for names, pair in ((("x_train", "y_train"), self._train), (("x_test", "y_test"), self._test)):
            parts.update(zip(names, pair or (None, None)))
        return {name: part for name, part in parts.items() if part is not None}

    def fingerprints(self) -> dict[str, Any]:
        """Each held part's fingerprint from when it was loaded (taken now for parts given by hand)."""
        for name, part in self.held().items():
            if name not in self._fingerprints:
                self._fingerprints[name] = fingerprint(part)
        return dict(self._fingerprints)

    def portable(self) -> "Run":
        """A self-contained copy (tensors on the CPU, no cache behind it) to send to another process."""
        def cpu(tensor: Any) -> Any:
            return None if tensor is None else tensor.cpu()

        return Run(model=self.model.cpu(), x_train=cpu(self.x_train), y_train=cpu(self.y_train),
                   x_test=cpu(self.x_test), y_test=cpu(self.y_test), init_model=cpu(self.init_model),
                   m=self.m, seed=self.seed, variant=self.variant, family=self.family, recipe=self.recipe,
                   train_error=self.train_error, test_error=self.test_error, train_loss=self.train_loss,
                   converged=self.converged, epochs=self.epochs, key=self.key,
                   data_fingerprint=self.data_fingerprint)

    def describe(self) -> str:
        """Names the run in error messages: family, variant, m and seed."""
        parts = [f"family={self.family}"] if self.family else []
        parts += [f"variant={self.variant}", f"m={self._m if self._m is not None else '?'}",
                  f"seed={self.seed}"]
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"Run({self.describe()})"

    # -- helpers ---------------------------------------------------------------
    def _require_source(self, what: str) -> RunSource:
        if self._source is None:
            raise ValueError(f"run {self.describe()} has no {what}")
        return self._source

    def _train_pair(self) -> Any:
        if self._train is None:
            if self._source is None:
                raise ValueError(
                    f"run {self.describe()} has no training data; "
                    "pass x_train= and y_train= to pf.Run"
                )
            self._train = self._source.train_data()
            self._loaded("x_train", self._train[0])
            self._loaded("y_train", self._train[1])
        return self._train

    def _test_pair(self) -> Any:
        if self._test is None and self._source is not None:
            self._test = self._source.test_data()
            if self._test is not None:
                self._loaded("x_test", self._test[0])
                self._loaded("y_test", self._test[1])
        return self._test

    def _loaded(self, name: str, part: Any) -> Any:
        """Remember what a part was when loaded, so a change by a measure can be seen."""
        self._fingerprints[name] = fingerprint(part)
        return part
