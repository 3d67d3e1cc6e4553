from pykickstart.handlers.control import commandMap, dataMap
from pykickstart.version import RHEL7, RHEL8, RHEL9
from pykickstart.base import DeprecatedCommand, RemovedCommand
import pykickstart.version as v
names = {RHEL7:"RHEL7",RHEL8:"RHEL8",RHEL9:"RHEL9"}
allc = set()
for ver in names: allc |= set(commandMap[ver])
print("%-16s %-28s %-28s %-28s" % ("command","RHEL7","RHEL8","RHEL9"))
for c in sorted(allc):
    row=[]
    for ver in names:
        cls = commandMap[ver].get(c)
        if cls is None: row.append("-")
        else:
            tag = ""
            if issubclass(cls, RemovedCommand): tag="REMOVED "
            elif issubclass(cls, DeprecatedCommand): tag="DEPRECATED "
            row.append(tag+cls.__name__)
    if len(set(row))>1 or True:
        print("%-16s %-28s %-28s %-28s" % (c,*row))
