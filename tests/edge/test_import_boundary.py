import subprocess
import sys


def test_edge_never_imports_torch_training_or_export() -> None:
    """Importing every edge module (daemon and CLI included) leaves torch out of sys.modules."""
    code = (
        "import sys, pkgutil, importlib, edge\n"
        "for m in pkgutil.iter_modules(edge.__path__):\n"
        "    importlib.import_module('edge.' + m.name)\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('torch', 'training', 'export')]\n"
        "assert not bad, bad\n"
        "assert 'edge.daemon' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
