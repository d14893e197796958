"""prune_checkpoint end to end on the tiny model: DIR layout, metadata, report, honesty of the accuracy rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seefood.bench.stats import summarize
from seefood.checkpoint import load_checkpoint, read_meta
from seefood.errors import ConfigError, OutputExistsError
from seefood.prune import PRUNE_JSON, PruneConfig, PruneReport, prune_checkpoint, summary_table
from seefood.prune.report import FAILED, PASSED, Stage
from seefood.train.config import TrainConfig
from seefood.train.loop import train

QUICK = {"workers": 0, "threads": 1, "latency_runs": 3, "device": "cpu", "batch_size": 16}


@pytest.fixture(scope="module")
def pruned(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> PruneReport:
    """One pruning run with one recovery epoch, shared by the module (read-only)."""
    out = tmp_path_factory.mktemp("prune") / "run"
    return prune_checkpoint(PruneConfig(tiny_checkpoint, ratio=0.3, out=out, finetune_epochs=1, **QUICK),
                            show_progress=False)


def test_the_run_writes_a_smaller_checkpoint_that_reloads_and_runs(pruned: PruneReport) -> None:
    out = Path(pruned.checkpoint).parent
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint", "finetune", PRUNE_JSON, "pruned"]
    result = load_checkpoint(pruned.checkpoint)
    assert result.model(torch.randn(2, 3, 64, 64)).shape == (2, 4)
    assert pruned.finetuned.params < pruned.original.params
    assert pruned.finetuned.size_bytes < pruned.original.size_bytes
    assert pruned.finetuned.macs < pruned.original.macs
    # tiny's 16-128-channel layers move in steps of 8 channels (round_to), and the narrowest are kept whole
    # (structured.too_narrow): 30 % is reachable only to within a step
    assert abs(pruned.sparsity - 0.3) < 0.1
    for stage in (pruned.original, pruned.pruned, pruned.finetuned):
        assert stage.top1 is not None and 0.0 <= stage.top1 <= 1.0
    assert pruned.original.latency is not None and pruned.finetuned.latency is not None
    assert pruned.images == 32 and pruned.split == "test"  # the sample data's 4 x 8 test images


def test_metadata_carries_shape_plan_sparsity_report_and_rule(pruned: PruneReport) -> None:
    meta = read_meta(pruned.checkpoint)
    assert meta.shape_plan and meta.shape_plan["layers"]
    assert meta.sparsity == pytest.approx(pruned.sparsity)
    assert meta.metrics["accuracy_rule"] == pruned.accuracy_rule
    assert meta.metrics["prune"]["params"] == {"before": pruned.original.params, "after": pruned.finetuned.params}
    assert meta.metrics["prune"]["accuracy"]["finetuned"] == pruned.finetuned.top1
    assert meta.parent_sha256 == load_checkpoint(pruned.source).sha256
    on_disk = json.loads((Path(pruned.checkpoint).parent / PRUNE_JSON).read_text())
    assert on_disk["sparsity"] == pruned.sparsity and on_disk["config"]["ratio"] == 0.3
    assert on_disk["latency_ms"]["before"]["p50"] > 0 and on_disk["finetune"]["epochs"] == 1


def test_the_fine_tuning_run_trained_the_pruned_shapes(pruned: PruneReport) -> None:
    run = Path(pruned.checkpoint).parent / "finetune"
    best = read_meta(run / "best")
    assert best.shape_plan == read_meta(pruned.checkpoint).shape_plan
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())).weights.endswith("pruned")


def test_rule_marks_a_drop_beyond_max_drop_as_failed() -> None:
    def report(before: float, after: float, max_drop: float) -> PruneReport:
        stage = Stage(params=10, macs=10, size_bytes=10, top1=before, top5=1.0)
        return PruneReport(
            architecture="tiny", source="s", checkpoint="c", ratio=0.3, sparsity=0.3, channel_ratio=0.2,
            importance="l2", round_to=8, removed=(), split="test", images=10, original=stage,
            pruned=stage, finetuned=Stage(params=7, macs=7, size_bytes=7, top1=after, top5=1.0),
            finetune_epochs=1, max_drop=max_drop, threads=1,
        )

    assert report(0.80, 0.79, 1.0).accuracy_rule == PASSED  # exactly one point: allowed
    assert report(0.80, 0.78, 1.0).accuracy_rule == FAILED
    assert report(0.80, 0.85, 0.0).accuracy_rule == PASSED  # fine-tuning may even help
    assert report(0.80, 0.78, 1.0).drop == pytest.approx(2.0)


def test_summary_table_names_every_measurement(pruned: PruneReport) -> None:
    from rich.console import Console

    console = Console(record=True, width=140)
    timed = pruned.with_int8({"name": "onnx-int8", "latency_ms": 1.5})
    console.print(summary_table(timed))
    text = console.export_text()
    for word in ("parameters", "MACs", "file size", "top-1", "b=1 CPU ms", "onnx-int8", pruned.accuracy_rule):
        assert word in text
    assert summarize([0.001], 1).p50_ms == 1.0  # the latency stats the table shows are in milliseconds


def test_an_earlier_run_is_kept_unless_forced(pruned: PruneReport, tiny_checkpoint: Path) -> None:
    out = Path(pruned.checkpoint).parent
    with pytest.raises(OutputExistsError, match="--force"):
        prune_checkpoint(PruneConfig(tiny_checkpoint, ratio=0.3, out=out, finetune_epochs=0, **QUICK))


def test_without_fine_tuning_the_result_is_the_pruned_model(tmp_path: Path, tiny_checkpoint: Path) -> None:
    report = prune_checkpoint(PruneConfig(tiny_checkpoint, ratio=0.5, out=tmp_path / "p", finetune_epochs=0,
                                          importance="l2", **{**QUICK, "latency_runs": 0}))
    assert not (tmp_path / "p" / "finetune").exists()
    assert report.finetuned.top1 == report.pruned.top1 and report.finetune is None
    assert report.original.latency is None
    pruned, result = load_checkpoint(tmp_path / "p" / "pruned"), load_checkpoint(report.checkpoint)
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(pruned.model(x), result.model(x))
    assert report.sparsity > 0.4


@pytest.mark.parametrize(("changes", "message"), [
    ({"ratio": 0.0}, "--ratio"), ({"ratio": 1.0}, "--ratio"), ({"importance": "random"}, "--importance"),
    ({"finetune_epochs": -1}, "--finetune-epochs"), ({"checkpoint": Path("missing")}, "not a folder"),
])
def test_bad_settings_are_config_errors(tmp_path: Path, tiny_checkpoint: Path, changes: dict, message: str) -> None:
    settings = {"checkpoint": tiny_checkpoint, "ratio": 0.3, "out": tmp_path / "p", **changes}
    with pytest.raises(ConfigError, match=message):
        PruneConfig(**settings)


def test_a_pruned_run_can_be_resumed(tmp_path: Path, pruned: PruneReport, sample_data: Path) -> None:
    """Session rebuilds the pruned shapes from last/'s plan when it resumes (seefood train --resume)."""
    config = TrainConfig(model="tiny", weights=str(Path(pruned.checkpoint).parent / "pruned"), data=str(sample_data),
                         epochs=1, batch_size=16, workers=0, threads=1, device="cpu", patience=None,
                         out=str(tmp_path / "run"))
    train(config, show_progress=False)
    resumed = train(config.evolve(epochs=2, resume=str(tmp_path / "run")), show_progress=False)
    assert resumed.epochs_run == 2
    assert read_meta(resumed.best).shape_plan == read_meta(pruned.checkpoint).shape_plan


def test_baseline_fine_tunes_the_unpruned_model_with_the_same_budget(tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "p"
    report = prune_checkpoint(PruneConfig(tiny_checkpoint, ratio=0.3, out=out, finetune_epochs=1, baseline=True,
                                          **{**QUICK, "latency_runs": 0}), show_progress=False)
    assert report.baseline is not None and report.baseline.top1 is not None
    assert report.baseline.params == report.original.params > report.finetuned.params
    pruned_run = TrainConfig.from_dict(json.loads((out / "finetune" / "config.json").read_text()))
    base_run = TrainConfig.from_dict(json.loads((out / "baseline" / "config.json").read_text()))
    assert Path(base_run.weights) == tiny_checkpoint and base_run.epochs == pruned_run.epochs == 1
    assert (base_run.lr, base_run.batch_size, base_run.warmup_epochs) == (
        pruned_run.lr, pruned_run.batch_size, pruned_run.warmup_epochs)
    assert read_meta(out / "baseline" / "best").shape_plan is None  # the unpruned architecture
    on_disk = json.loads((out / PRUNE_JSON).read_text())
    assert on_disk["accuracy"]["baseline"] == report.baseline.top1
    assert on_disk["accuracy"]["drop_vs_baseline_points"] == pytest.approx(report.drop_vs_baseline)


def test_with_a_baseline_the_rule_also_compares_against_it() -> None:
    def stage(top1: float, params: int = 10) -> Stage:
        return Stage(params=params, macs=params, size_bytes=params, top1=top1, top5=1.0)

    def report(before: float, after: float, baseline: float | None) -> PruneReport:
        return PruneReport(
            architecture="tiny", source="s", checkpoint="c", ratio=0.3, sparsity=0.3, channel_ratio=0.2,
            importance="l2", round_to=8, removed=(), split="test", images=10, original=stage(before),
            pruned=stage(before), finetuned=stage(after, 7), finetune_epochs=1, max_drop=1.0, threads=1,
            baseline=None if baseline is None else stage(baseline),
        )

    assert report(0.50, 0.52, None).accuracy_rule == PASSED
    assert report(0.50, 0.52, 0.60).accuracy_rule == FAILED  # beats the original, trails the same budget by 8
    assert report(0.50, 0.52, 0.60).drop_vs_baseline == pytest.approx(8.0)
    assert report(0.50, 0.52, 0.525).accuracy_rule == PASSED


def test_baseline_needs_fine_tuning_epochs(tmp_path: Path, tiny_checkpoint: Path) -> None:
    with pytest.raises(ConfigError, match="--baseline"):
        PruneConfig(tiny_checkpoint, ratio=0.3, out=tmp_path / "p", finetune_epochs=0, baseline=True)


def test_a_moved_training_folder_asks_for_data(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """A checkpoint trained on a relative path, used from elsewhere: say --data, not just 'no dataset'."""
    from seefood.checkpoint import save_checkpoint, update_meta

    moved = load_checkpoint(tiny_checkpoint)
    folder = save_checkpoint(tmp_path / "ckpt", moved.model, moved.meta)
    update_meta(folder, moved.meta.evolve(config={**moved.meta.config, "data": "relative/food-photos"}))
    with pytest.raises(ConfigError, match="pass --data PATH"):
        prune_checkpoint(PruneConfig(folder, ratio=0.3, out=tmp_path / "p", finetune_epochs=0, **QUICK))


def test_recovery_fine_tuning_trains_every_layer_even_after_a_head_first_recipe(tiny_checkpoint: Path) -> None:
    """A checkpoint trained head-first (frozen BN, slow backbone) is recovered with every layer at one rate,
    distilling from the unpruned checkpoint; BatchNorm stays frozen as the source recipe had it."""
    from seefood.prune.pipeline import finetune_config

    meta = read_meta(tiny_checkpoint)
    source = TrainConfig(model="tiny", epochs=20, head_epochs=2, backbone_lr_scale=0.2, freeze_bn=True,
                         train_size=48, crop_scale=0.2)
    config = PruneConfig(checkpoint=tiny_checkpoint, ratio=0.3, out=Path("unused"), finetune_epochs=2, lr=4e-4)
    recovery = finetune_config(config, meta, source, "sample", tiny_checkpoint)
    assert (recovery.epochs, recovery.head_epochs, recovery.backbone_lr_scale, recovery.freeze_bn) == (2, 0, 1.0, True)
    assert recovery.teacher == str(tiny_checkpoint)
    plain = PruneConfig(checkpoint=tiny_checkpoint, ratio=0.3, out=Path("unused"), finetune_epochs=2, distill=False)
    assert finetune_config(plain, meta, source, "sample", tiny_checkpoint).teacher is None
    unfrozen = finetune_config(config, meta, source.evolve(freeze_bn=False), "sample", tiny_checkpoint)
    assert unfrozen.freeze_bn is False
    assert (recovery.lr, recovery.train_size, recovery.crop_scale) == (4e-4, 48, 0.2)  # the rest of the recipe stays
