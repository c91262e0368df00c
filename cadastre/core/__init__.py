"""What every layer uses: errors, settings and code tables, the 不动产单元代码 and 宗地代码 types, geometry helpers,
findings as rows and the rule catalogue, the planning-permit model, roles, permissions and tokens, progress
callbacks, worker liveness, files and checksums, and the plain declarations the layers hand each other
(``model``). Imports nothing else of cadastre."""

__version__ = "0.1.0"
