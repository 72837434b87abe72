"""scripts/quality_bar.py: the check quoted in the README and the model card."""
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "quality_bar.py"


def results(path: Path, rows: dict) -> Path:
    means = [{"set": "kodak24", "method": method, "quality": quality, "psnr": psnr, "ssim": 0.5, "psnr_b": psnr_b}
             for method, cells in rows.items() for quality, (psnr, psnr_b) in cells.items()]
    path.write_text(json.dumps({"means": means}))
    return path


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_bar_met_and_ignored_rows(tmp_path):
    path = results(tmp_path / "r.json", {"mlsm": {90: (21.0, 22.0), 60: (20.0, 21.0)},
                                         "zero_dce": {90: (19.0, 20.0), 60: (18.0, 19.5)},
                                         "mlsm:parts": {90: (25.0, 25.0), 60: (25.0, 25.0)}})
    done = run(path, "--method", "mlsm", "--ignore", "mlsm:parts")
    assert done.returncode == 0 and "bar met" in done.stdout
    assert "QF 60 psnr_b: 21.00 vs best rival zero_dce 19.50 (margin +1.50)" in done.stdout


def test_bar_not_met_names_the_rival(tmp_path):
    path = results(tmp_path / "r.json", {"mlsm": {90: (21.0, 22.0)}, "pipe": {90: (20.0, 22.5)}})
    done = run(path)
    assert done.returncode == 1 and "bar NOT met" in done.stdout
    assert "psnr_b: 22.00 vs best rival pipe 22.50 (margin -0.50)" in done.stdout
    assert run(path, "--method", "nothing").returncode == 2
