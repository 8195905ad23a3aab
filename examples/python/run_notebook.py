"""Executes a notebook with nbclient in its own folder and fails if any cell fails.
    python run_notebook.py NOTEBOOK.ipynb        (the notebook file is not modified)"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path = Path(sys.argv[1]).resolve()
notebook = nbformat.read(path, as_version=4)
start = time.time()
try:
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
except CellExecutionError as e:
    print(f"FAIL: {path.name}: {e}")
    sys.exit(1)
for cell in notebook.cells:
    for output in cell.get("outputs", []):
        if output.get("name") == "stdout":
            print("  " + "".join(output["text"]).rstrip().replace("\n", "\n  "))
images = sum("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
if images == 0:
    print(f"FAIL: {path.name} drew no plot")
    sys.exit(1)
print(f"ok   {path.name}: {len(notebook.cells)} cells ran in {time.time() - start:.1f} s, {images} plot(s)")
