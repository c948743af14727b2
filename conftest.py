"""pytest configuration shared by tests/ and the nbval run over chapters/.

Notebook kernels started by nbval inherit this environment: no tqdm progress widgets, whose
output the stored notebooks (executed with TQDM_DISABLE=1) do not contain.
"""

import os

os.environ.setdefault("TQDM_DISABLE", "1")
