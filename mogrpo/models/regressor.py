"""The multi-label reward regressor: encoder -> pooling -> K sigmoid heads, one per aspect.

    r_k(prompt, response) = sigmoid(w_k . pool(encoder(prompt [SEP] response)) + b_k)   in [0, 1]

Saved as a directory: ``model.safetensors`` (encoder + heads), ``regressor_config.json`` (the
aspects, pooling, max length and the encoder's HF config) and the tokenizer files, and loaded
with one call: ``MultiAspectRegressor.load(dir)``; :func:`load_regressor` also checks its aspects against
the run's. :func:`check_finite_scores` stops a run whose regressor returned NaN / inf.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from mogrpo.errors import ConfigError, RewardError

CONFIG_NAME = "regressor_config.json"
WEIGHTS_NAME = "model.safetensors"
POOLINGS = ("mean", "cls")


class MultiAspectRegressor(nn.Module):
    """Predicts one score in [0, 1] per aspect for (prompt, response) pairs."""

    def __init__(
        self,
        encoder: nn.Module,
        tokenizer,
        aspects: Sequence[str],
        pooling: str = "mean",
        head_dropout: float = 0.1,
        max_length: int = 256,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if not aspects or len(set(aspects)) != len(aspects):
            raise ValueError(f"aspects must be a non-empty list of unique names, got {list(aspects)}")
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.aspects = list(aspects)
        self.pooling = pooling
        self.max_length = int(max_length)
        self.head_dropout = float(head_dropout)
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(head_dropout)
        self.heads = nn.ModuleDict({a: nn.Linear(hidden, 1) for a in self.aspects})

    @property
    def num_aspects(self) -> int:
        return len(self.aspects)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-6)

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **enc_kwargs) -> torch.Tensor:
        """Pre-sigmoid scores ``[B, K]``."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **enc_kwargs)
        pooled = self.dropout(self.pool(out.last_hidden_state, attention_mask))
        return torch.cat([self.heads[a](pooled) for a in self.aspects], dim=-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **enc_kwargs) -> torch.Tensor:
        """Aspect scores in [0, 1], ``[B, K]``."""
        return torch.sigmoid(self.logits(input_ids, attention_mask, **enc_kwargs))

    def tokenize(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, torch.Tensor]:
        """Encode pairs as ``prompt [SEP] response``, cut to ``max_length`` (longest side first)."""
        return self.tokenizer(
            list(prompts),
            list(responses),
            truncation="longest_first",
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )

    @torch.no_grad()
    def score(self, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Scores ``[N, K]`` (float32, on CPU) for N pairs, in eval mode, without gradients."""
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = []
        try:
            for i in range(0, len(prompts), batch_size):
                batch = self.tokenize(prompts[i : i + batch_size], responses[i : i + batch_size])
                batch = {k: v.to(device) for k, v in batch.items()}
                out.append(self(**batch).float().cpu())
        finally:
            self.train(was_training)
        if not out:
            return torch.zeros(0, self.num_aspects)
        return torch.cat(out)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict:
        return {
            "aspects": self.aspects,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "head_dropout": self.head_dropout,
            "encoder_config": self.encoder.config.to_dict(),
        }

    def save(self, directory: str | Path) -> Path:
        """Write the regressor into ``directory`` (created), safetensors weights + JSON config + tokenizer."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
        (directory / CONFIG_NAME).write_text(json.dumps(self.config_dict(), indent=2))
        self.tokenizer.save_pretrained(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> MultiAspectRegressor:
        """Load a regressor saved by :meth:`save` (safetensors only; no pickle)."""
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        directory = Path(directory)
        cfg_path = directory / CONFIG_NAME
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{directory} is not a saved reward regressor (no {CONFIG_NAME})")
        cfg = json.loads(cfg_path.read_text())
        enc_cfg = dict(cfg["encoder_config"])
        encoder = AutoModel.from_config(AutoConfig.for_model(enc_cfg.pop("model_type"), **enc_cfg))
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = cls(encoder, tokenizer, cfg["aspects"], cfg["pooling"], cfg["head_dropout"], cfg["max_length"])
        model.load_state_dict(load_file(str(directory / WEIGHTS_NAME)))
        return model.to(device).eval()


def build_regressor(reward_model, aspects: Sequence[str]) -> MultiAspectRegressor:
    """A fresh regressor (pretrained or tiny encoder, random heads) from the ``reward_model`` settings
    (a :class:`~mogrpo.configs.RewardModelConfig`, or a node of that group)."""
    from mogrpo.configs import RewardModelConfig
    from mogrpo.models.loading import load_encoder

    rm = RewardModelConfig.from_node(reward_model, RewardModelConfig.KEY)
    encoder, tokenizer = load_encoder(rm.spec)
    return MultiAspectRegressor(
        encoder, tokenizer, aspects, pooling=rm.pooling, head_dropout=rm.head_dropout, max_length=rm.max_length
    )

def load_regressor(reward_dir: str | Path, aspects: Sequence[str]) -> MultiAspectRegressor:
    """The saved reward regressor, checked against ``reward.aspects`` (same names, same order)."""
    regressor = MultiAspectRegressor.load(reward_dir)
    if regressor.aspects != list(aspects):
        raise ConfigError(
            "reward.aspects",
            f"{list(aspects)} differ from the aspects {regressor.aspects} of the regressor in {reward_dir}",
        )
    return regressor


def check_finite_scores(
    scores: torch.Tensor,
    prompts: Sequence[str],
    completions: Sequence[str],
    aspects: Sequence[str],
    run_dir: str | Path | None = None,
) -> None:
    """Raise :class:`~mogrpo.errors.RewardError` if any score is NaN/inf, saving the bad rows to
    ``<run_dir>/bad_reward.jsonl``."""
    bad = (~torch.isfinite(scores)).any(dim=1).nonzero().flatten().tolist()
    if not bad:
        return
    where = ""
    if run_dir is not None:
        path = Path(run_dir) / "bad_reward.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            for i in bad:
                row = {"prompt": prompts[i], "completion": completions[i]}
                row["scores"] = {a: float(v) for a, v in zip(aspects, scores[i].tolist())}
                fh.write(json.dumps(row) + "\n")
        where = f"; all {len(bad)} bad rows saved to {path}"
    i = bad[0]
    raise RewardError(
        f"the reward regressor returned non-finite scores {dict(zip(aspects, scores[i].tolist()))} "
        f"for prompt {prompts[i]!r} and completion {completions[i]!r}{where}"
    )
