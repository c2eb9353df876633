"""Imports every module of one installed distribution (used by scripts/check-isolation)."""

import importlib
import pkgutil
import sys

distribution = sys.argv[1]
package = importlib.import_module(distribution)
for module in pkgutil.walk_packages(package.__path__, f"{distribution}."):
    importlib.import_module(module.name)
print(distribution, "imports:", ", ".join(sorted(getattr(package, "__all__", []))))
