"""int8 recipes on the tiny model: each writes a model its runtime loads and that agrees with fp32."""

from __future__ import annotations

import copy
import importlib.util
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from seefood.checkpoint import Checkpoint
from seefood.errors import BackendMissingError, ExportError, ModelError
from seefood.export.calibration import calibration_batches
from seefood.export.formats.base import ExportSpec
from seefood.export.quantize import INT8_RECIPES, Int8Recipe, model_family
from seefood.export.quantize.onnx import WEIGHT_OPS
from seefood.metadata import ModelMeta
from seefood.models import get_spec

MIN_AGREEMENT = 0.9  # top-1 agreement with fp32 on held-out photos (the pipeline's parity gate is stricter)
MIN_COSINE = 0.99  # mean cosine similarity of int8 and fp32 logits

openvino_missing = pytest.mark.skipif(
    importlib.util.find_spec("nncf") is None or importlib.util.find_spec("openvino") is None,
    reason="OpenVINO + NNCF are not installed: pip install 'seefood[openvino]'",
)


@pytest.fixture(scope="module")
def calib(sample_data: Path, tiny: Checkpoint) -> list[np.ndarray]:
    """Calibration batches from the generated sample's training split, as the pipeline makes them."""
    return calibration_batches(sample_data, tiny.meta.preprocessing, n=48, seed=0)


@pytest.fixture(scope="module")
def fp32_dirs(tmp_path_factory: pytest.TempPathFactory, tiny: Checkpoint) -> dict[str, Path]:
    """fp32 exports of the tiny model by the project's own exporters: {"onnx": dir, "openvino": dir, ...}."""
    from seefood.export.formats import EXPORTERS

    root = tmp_path_factory.mktemp("fp32")
    example = torch.zeros(1, 3, 64, 64)
    spec = ExportSpec(precision="fp32", device="cpu", dynamic_batch=True)
    dirs = {}
    for fmt in INT8_RECIPES:
        try:
            EXPORTERS[fmt].check_backend()
        except BackendMissingError:
            continue
        EXPORTERS[fmt].export(tiny.model, tiny.meta, example, root / fmt, spec)
        dirs[fmt] = root / fmt
    return dirs


def _agreement(logits: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    top1 = float(np.mean(logits.argmax(1) == reference.argmax(1)))
    cosine = np.sum(logits * reference, 1) / (np.linalg.norm(logits, axis=1) * np.linalg.norm(reference, axis=1))
    return top1, float(cosine.mean())


def _int8_meta(meta: ModelMeta, fmt: str) -> ModelMeta:
    return meta.evolve(format=fmt, precision="int8")


def _quantize(recipe: Int8Recipe, fmt: str, fp32_dirs: dict[str, Path], tiny: Checkpoint,
              calib: list[np.ndarray], out: Path) -> Path:
    untouched = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    path = recipe.quantize(fp32_dirs[fmt], copy.deepcopy(tiny.model), tiny.meta, calib, out)
    assert all(torch.equal(v, tiny.model.state_dict()[k]) for k, v in untouched.items())
    return path


def test_recipe_registry_is_ordered_and_frozen() -> None:
    assert set(INT8_RECIPES) >= {"onnx", "openvino"}
    for fmt, recipes in INT8_RECIPES.items():
        names = [r.name for r in recipes]
        assert len(recipes) >= 2 and len(set(names)) == len(names), fmt  # a default and at least one remedy
        assert all(r.description and callable(r.quantize) for r in recipes)
    with pytest.raises(FrozenInstanceError):
        INT8_RECIPES["onnx"][0].name = "other"  # type: ignore[misc]


def test_model_family_is_the_registry_record_and_never_guessed() -> None:
    meta = ModelMeta("tiny", ("a", "b"), get_spec("tiny").preprocessing)
    assert model_family(meta) == "cnn"
    assert model_family(meta.evolve(architecture="vit_b16")) == "transformer"
    assert model_family(meta.evolve(architecture="effnet_lite2")) == "cnn"
    assert model_family(meta.evolve(architecture="timm/vit_tiny_patch16_224")) == "transformer"
    assert model_family(meta.evolve(architecture="timm/mobilenetv3_small_050")) == "cnn"
    attention = torch.nn.Sequential(torch.nn.MultiheadAttention(8, 2))
    with pytest.raises(ModelError, match="unknown model 'my_vit'"):  # no silent CNN/transformer guess
        model_family(meta.evolve(architecture="my_vit"), attention)


@pytest.mark.parametrize("recipe", INT8_RECIPES["onnx"], ids=lambda r: r.name)
def test_onnx_recipe_writes_an_int8_model_that_agrees_with_fp32(
    recipe: Int8Recipe, fp32_dirs: dict[str, Path], tiny: Checkpoint, calib: list[np.ndarray],
    test_photos: tuple[np.ndarray, np.ndarray], tmp_path: Path,
) -> None:
    import onnx

    from seefood.runtimes.onnx import OnnxRuntime

    out = tmp_path / "onnx-int8"
    path = _quantize(recipe, "onnx", fp32_dirs, tiny, calib, out)
    assert path == out / "model.onnx" and sorted(p.name for p in out.iterdir()) == ["model.onnx"]
    graph = onnx.load(str(path)).graph
    int8_weights = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.INT8}
    dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8_weights}
    quantized_ops = [n for n in graph.node if n.op_type in WEIGHT_OPS and set(n.input) & dequantized]
    assert quantized_ops, "no Conv/MatMul/Gemm runs on int8 weights"
    if "keep-ends" in recipe.name or "conservative" in recipe.name:
        float_ends = [n for n in graph.node if n.op_type in WEIGHT_OPS and not set(n.input) & dequantized]
        assert [n.op_type for n in float_ends] == ["Conv", "Gemm"]  # the stem and the classifier
    runtime = OnnxRuntime(out, meta=_int8_meta(tiny.meta, "onnx"), device="cpu", threads=1)
    top1, cosine = _agreement(runtime.run(test_photos[0]), test_photos[1])
    assert top1 >= MIN_AGREEMENT and cosine >= MIN_COSINE, (top1, cosine)


@openvino_missing
@pytest.mark.parametrize("recipe", INT8_RECIPES["openvino"], ids=lambda r: r.name)
def test_openvino_recipe_writes_an_int8_model_that_agrees_with_fp32(
    recipe: Int8Recipe, fp32_dirs: dict[str, Path], tiny: Checkpoint, calib: list[np.ndarray],
    test_photos: tuple[np.ndarray, np.ndarray], tmp_path: Path,
) -> None:
    import openvino as ov

    from seefood.runtimes.openvino import OpenVinoRuntime

    out = tmp_path / "openvino-int8"
    path = _quantize(recipe, "openvino", fp32_dirs, tiny, calib, out)
    assert path == out / "model.xml" and sorted(p.name for p in out.iterdir()) == ["model.bin", "model.xml"]
    ops = list(ov.Core().read_model(str(path)).get_ordered_ops())
    quantized = [op for op in ops if op.get_type_name() == "FakeQuantize"]
    assert quantized, "NNCF inserted no FakeQuantize: the model is not int8"
    if "keep-ends" in recipe.name:
        stem = next(op for op in ops if op.get_type_name() == "Convolution")
        assert stem.input_value(0).get_node().get_type_name() != "FakeQuantize"
    runtime = OpenVinoRuntime(out, meta=_int8_meta(tiny.meta, "openvino"), device="cpu", threads=1)
    assert runtime.precision_ran.startswith("int8")
    top1, cosine = _agreement(runtime.run(test_photos[0]), test_photos[1])
    assert top1 >= MIN_AGREEMENT and cosine >= MIN_COSINE, (top1, cosine)


def test_missing_openvino_is_a_backend_error(
    monkeypatch: pytest.MonkeyPatch, tiny: Checkpoint, calib: list[np.ndarray], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` raise ImportError
    monkeypatch.setitem(sys.modules, "nncf", None)
    with pytest.raises(BackendMissingError, match=r"OpenVINO \+ NNCF.*pip install 'seefood\[openvino\]'"):
        INT8_RECIPES["openvino"][0].quantize(tmp_path, tiny.model, tiny.meta, calib, tmp_path / "out")


def test_quantize_package_imports_without_openvino_or_torch() -> None:
    code = (
        "import sys; sys.modules['openvino'] = None; sys.modules['nncf'] = None\n"
        "from seefood.export.quantize import INT8_RECIPES\n"
        "assert INT8_RECIPES['openvino'] and 'torch' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("fmt", ["onnx", "openvino", "executorch"])
def test_missing_fp32_export_or_calibration_is_an_export_error(
    fmt: str, fp32_dirs: dict[str, Path], tiny: Checkpoint, calib: list[np.ndarray], tmp_path: Path
) -> None:
    if fmt not in fp32_dirs:
        pytest.skip(f"{fmt} backend is not installed")
    recipe = INT8_RECIPES[fmt][0]
    with pytest.raises(ExportError, match="export the fp32 artifact first"):
        recipe.quantize(tmp_path / "empty", tiny.model, tiny.meta, calib, tmp_path / "out")
    with pytest.raises(ExportError, match="calibration images"):
        recipe.quantize(fp32_dirs[fmt], tiny.model, tiny.meta, [], tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_accuracy_aware_metric_is_top1_agreement_with_fp32() -> None:
    from seefood.export.quantize.openvino import top1_agreement

    def compiled(batch: np.ndarray) -> list[np.ndarray]:  # a 'model' whose logits are its input rows
        return [batch]

    items = [(np.array([[0.0, 1.0], [2.0, 1.0]]), np.array([1, 0])), (np.array([[3.0, 0.0]]), np.array([1]))]
    metric, per_item = top1_agreement(compiled, items)
    assert per_item == [1.0, 0.0] and metric == pytest.approx(0.5)


@pytest.mark.slow
@openvino_missing
def test_pipeline_keeps_the_default_recipe_when_it_passes_parity(quick_config: Any, sample_data: Path) -> None:
    from seefood.export.pipeline import run_export
    from seefood.runtimes import load_runtime

    report = run_export(quick_config(formats=("onnx", "openvino"), int8=True, calib_data=sample_data,
                                     calib_size=48, latency_runs=0))
    for fmt in ("onnx", "openvino"):
        row = next(r for r in report.rows if r.name == f"{fmt}-int8")
        assert (row.status, row.recipe) == ("passed", INT8_RECIPES[fmt][0].name), row.reason
        runtime = load_runtime(report.out / str(row.path), threads=1)
        assert runtime.meta.precision == "int8" and runtime.meta.format == fmt


def test_onnx_settings_reject_unknown_choices() -> None:
    from seefood.errors import ConfigError
    from seefood.export.quantize.onnx import OrtInt8Settings

    with pytest.raises(ConfigError, match="op_types"):
        OrtInt8Settings(op_types="everything")
    with pytest.raises(ConfigError, match="ranges"):
        OrtInt8Settings(ranges="percentile")


@pytest.mark.slow
@openvino_missing
def test_accuracy_aware_recipe_reverts_layers_when_int8_flips_predictions(
    tiny: Checkpoint, calib: list[np.ndarray], tmp_path: Path
) -> None:
    import openvino as ov

    from seefood.export.formats import EXPORTERS
    from seefood.export.quantize.openvino import NncfSettings, quantize_openvino

    model = copy.deepcopy(tiny.model)
    with torch.no_grad():  # classes 0 and 1 nearly tie, the others never win: int8 noise flips some top-1s
        weight, bias = model.classifier.weight, model.classifier.bias
        weight[1] = weight[0] + 0.02 * torch.randn(weight.shape[1], generator=torch.Generator().manual_seed(0))
        bias[1] = bias[0]
        weight[2:], bias[2:] = 0.0, -1e3
    EXPORTERS["openvino"].export(model, tiny.meta, torch.zeros(1, 3, 64, 64), tmp_path / "fp32",
                                 ExportSpec(precision="fp32", device="cpu", dynamic_batch=True))
    batch = np.concatenate(calib)
    with torch.no_grad():
        reference = model(torch.from_numpy(batch)).numpy().argmax(1)

    def fake_quantizers_and_agreement(settings: NncfSettings, out: Path) -> tuple[int, float]:
        path = quantize_openvino(tmp_path / "fp32", model, tiny.meta, calib, out, settings)
        ov_model = ov.Core().read_model(str(path))
        count = sum(op.get_type_name() == "FakeQuantize" for op in ov_model.get_ordered_ops())
        compiled = ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        return count, float(np.mean(compiled(batch)[0].argmax(1) == reference))

    plain_count, plain_agreement = fake_quantizers_and_agreement(NncfSettings(), tmp_path / "plain")
    assert plain_agreement < 1.0, "the near-tie model should lose some top-1s in int8"
    aware_count, aware_agreement = fake_quantizers_and_agreement(NncfSettings(max_drop=0.0), tmp_path / "aware")
    assert aware_count < plain_count and aware_agreement > plain_agreement


class _SqueezeExcite(torch.nn.Module):
    """Conv -> squeeze-and-excitation gate -> classifier, the block EfficientNet repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.gate = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Conv2d(8, 8, 1), torch.nn.Sigmoid())
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv(x))
        return self.head((y * self.gate(y)).mean(dim=(2, 3)))


@openvino_missing
def test_nncf_leaves_squeeze_excitation_gates_of_cnns_in_float(
    tiny: Checkpoint, calib: list[np.ndarray], tmp_path: Path
) -> None:
    import openvino as ov

    from seefood.errors import ConfigError
    from seefood.export.quantize.openvino import NncfSettings, quantize_openvino

    torch.manual_seed(0)
    model = _SqueezeExcite().eval()
    fp32 = ov.convert_model(model, example_input=torch.zeros(1, 3, 64, 64))
    ov.save_model(fp32, str(tmp_path / "fp32" / "model.xml"), compress_to_fp16=False)

    def fed_by_fake_quantize(settings: NncfSettings, out: str) -> set[str]:
        path = quantize_openvino(tmp_path / "fp32", model, tiny.meta, calib, tmp_path / out, settings)
        return {target.get_node().get_type_name() for op in ov.Core().read_model(str(path)).get_ordered_ops()
                if op.get_type_name() == "FakeQuantize" for target in op.output(0).get_target_inputs()}

    assert "Multiply" in fed_by_fake_quantize(NncfSettings(cnn_gates_float=False), "all")
    default = fed_by_fake_quantize(NncfSettings(), "gates-float")
    assert "Convolution" in default and not default & {"Multiply", "ReduceMean"}
    with pytest.raises(ConfigError, match="ranges"):
        NncfSettings(ranges="percentile")
