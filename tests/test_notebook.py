"""notebooks/tour.ipynb: committed without outputs, and it runs top to bottom (nbclient, a fresh kernel, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TOUR = Path(__file__).resolve().parents[1] / "notebooks" / "tour.ipynb"


def test_the_tour_is_committed_with_outputs_cleared() -> None:
    notebook = json.loads(TOUR.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, "the tour has no code cells"
    dirty = [i for i, cell in enumerate(code) if cell.get("outputs") or cell.get("execution_count") is not None]
    assert not dirty, f"code cells {dirty} keep outputs: clear them before committing (Jupyter: Clear All Outputs)"


def test_the_tour_uses_the_public_api_not_shell_calls() -> None:
    sources = "\n".join("".join(cell["source"]) for cell in json.loads(TOUR.read_text(encoding="utf-8"))["cells"]
                        if cell["cell_type"] == "code")
    for call in ("seefood.train(", "seefood.evaluate(", "seefood.export(", "seefood.bench(", "seefood.pick(",
                 "seefood.load(", "build_space("):
        assert call in sources, call
    assert "subprocess" not in sources and "\n!" not in f"\n{sources}" and "%%bash" not in sources


@pytest.mark.slow
def test_the_tour_runs_top_to_bottom(tmp_path: Path) -> None:
    """Every cell runs in a fresh kernel, in a scratch folder, and the plots come out inline."""
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra: pip install -e '.[dev]'")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra: pip install -e '.[dev]'")
    pytest.importorskip("ipykernel", reason="ipykernel is in the dev extra: pip install -e '.[dev]'")
    notebook = nbformat.read(str(TOUR), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # a failing cell raises CellExecutionError naming the cell and its traceback
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the sample grid, training curves, confusion matrix and latency plot are inline"
    assert (tmp_path / "runs" / "tour" / "space" / "app.py").is_file()
    assert (tmp_path / "runs" / "tour" / "tiny-report" / "decision.json").is_file()
