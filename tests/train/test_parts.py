"""Small parts of the training machinery: configs, data order, LR schedule, EMA, LoRA, `zoo train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from tests.train.helpers import tiny_autoencoder_config
from zoo.train.config import ConfigError, OptimSection, config_from_dict, load_config
from zoo.train.ema import EMA
from zoo.train.loop import lr_at
from zoo.train.lora import add_lora, merge_lora
from zoo.train.order import DataOrder


def test_config_rejects_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    base = tiny_autoencoder_config(tmp_path, tmp_path / "run")
    with pytest.raises(ConfigError, match="unknown key.*lerning_rate"):
        config_from_dict({**base, "optim": {"lerning_rate": 1}})
    with pytest.raises(ConfigError, match="task must be"):
        config_from_dict({**base, "task": "gan"})
    with pytest.raises(ConfigError, match="mixed_precision"):
        config_from_dict({**base, "optim": {"mixed_precision": "fp8"}})


def test_yaml_config_with_dotted_overrides(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_autoencoder_config(tmp_path, tmp_path / "run")))
    cfg = load_config(path, {"optim.max_steps": 9, "autoencoder.finetune": "full"})
    assert cfg.optim.max_steps == 9 and cfg.optim.batch_size == 2 and cfg.autoencoder.name == "zoo-demo-f4"


@pytest.mark.parametrize("world", [1, 3])
def test_data_order_is_a_per_epoch_shuffle_split_between_processes(world: int) -> None:
    order = DataOrder(num_items=12, batch_size=2, seed=4, world=world)
    per_epoch = order.batches_per_epoch
    for epoch in (0, 1):
        seen = [i for b in range(per_epoch) for r in range(world)
                for i in order.batch(epoch * per_epoch + b, r)[1].tolist()]
        assert sorted(seen) == list(range(12))  # every item once per epoch, no overlap between processes
    first = [order.batch(b)[1].tolist() for b in range(per_epoch)]
    second = [order.batch(per_epoch + b)[1].tolist() for b in range(per_epoch)]
    assert first != second  # reshuffled each epoch
    assert DataOrder(12, 2, seed=4, world=world).batch(5, 0)[1].tolist() == order.batch(5, 0)[1].tolist()


def test_cosine_schedule_warms_up_and_ends_at_min_lr() -> None:
    optim = OptimSection(lr=1e-3, min_lr=1e-5, warmup_steps=2)
    assert lr_at(0, 10, optim, 5) == pytest.approx(5e-4)
    assert lr_at(2, 10, optim, 5) == pytest.approx(1e-3)
    assert lr_at(10, 10, optim, 5) == pytest.approx(1e-5)
    epochwise = OptimSection(lr=1e-4, min_lr=1e-6, epochs=4, schedule="cosine-epoch")
    assert lr_at(3, 20, epochwise, 5) == lr_at(0, 20, epochwise, 5) == pytest.approx(1e-4)
    assert lr_at(5, 20, epochwise, 5) < 1e-4


def test_ema_tracks_and_swaps_weights() -> None:
    model = nn.Linear(3, 2)
    ema = EMA(model, decay=0.5)
    before = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model, step=100)
    expected = before + 0.5
    with ema.applied(model):
        assert torch.allclose(model.weight, expected)
    assert torch.allclose(model.weight, before + 1.0)


def test_lora_starts_at_the_base_model_and_merges_into_the_same_layout() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.SiLU(), nn.Conv2d(4, 2, 1), nn.Flatten(), nn.Linear(32, 3))
    x = torch.randn(2, 2, 4, 4)
    ref = net(x)
    keys = set(net.state_dict())
    params = add_lora(net, rank=2, alpha=2.0)
    assert len(params) == 6 and all(p.requires_grad for p in params)
    assert not any(p.requires_grad for n, p in net.named_parameters() if "lora_" not in n)
    assert torch.allclose(net(x), ref)
    with torch.no_grad():
        for p in params:
            p.add_(0.1 * torch.randn_like(p))
    adapted = net(x)
    assert not torch.allclose(adapted, ref)
    merge_lora(net)
    assert set(net.state_dict()) == keys
    assert torch.allclose(net(x), adapted, atol=1e-5)


def test_lora_finetune_of_a_saved_autoencoder(prepared: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from zoo.train.loop import train

    base = train(config_from_dict(tiny_autoencoder_config(prepared, tmp_path / "base", max_steps=1)), progress=False)
    raw = tiny_autoencoder_config(prepared, tmp_path / "lora", max_steps=2, ema=None)
    raw["autoencoder"] = {"name": str(base), "finetune": "lora", "lora_rank": 2, "pretrained": True,
                          "card": {"name": "tiny-ae-lora", "modality": ["MR"]}}
    result = train(config_from_dict(raw), progress=False)
    a = load_file(str(base / "autoencoder.safetensors"))
    b = load_file(str(result / "autoencoder.safetensors"))
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], b[k]) for k in a)
    card = json.loads((result / "zoo_autoencoder.json").read_text())["card"]
    assert card["name"] == "tiny-ae-lora" and card["modality"] == ["MR"]


def test_zoo_train_cli_runs_and_reports_bad_configs(prepared: Path, tmp_path: Path) -> None:
    from zoo.cli import main

    path = tmp_path / "c.json"
    path.write_text(json.dumps(tiny_autoencoder_config(prepared, tmp_path / "run")))
    res = CliRunner().invoke(main, ["train", "--config", str(path), "--set", "optim.max_steps=2", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "autoencoder" / "zoo_autoencoder.json").exists()
    assert f"result in {tmp_path / 'run' / 'autoencoder'}" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(path.read_text()), "optim": {"batch_size": 0}}))
    res = CliRunner().invoke(main, ["train", "--config", str(bad)])
    assert res.exit_code == 2 and res.output.strip().startswith("zoo: error:") and "batch_size" in res.output
