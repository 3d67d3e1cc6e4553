"""Parse small kickstarts under RHEL7/RHEL8/RHEL9 (pykickstart 3.78); record warnings and errors."""
import sys, warnings, json
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion, RHEL7, RHEL8, RHEL9
from pykickstart.errors import KickstartError, KickstartParseWarning, KickstartDeprecationWarning

VERS = [("RHEL7", RHEL7), ("RHEL8", RHEL8), ("RHEL9", RHEL9)]

def run(text, ver):
    h = makeVersion(ver)
    p = KickstartParser(h, followIncludes=False, errorsAreFatal=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            p.readKickstartFromString(text)
            err = None
        except KickstartError as e:
            err = "ERROR: " + str(e).strip().replace("\n", " ")
        except Exception as e:
            err = "EXC %s: %s" % (type(e).__name__, e)
    ws = []
    for x in w:
        if issubclass(x.category, KickstartDeprecationWarning):
            ws.append("DEPRECATION-WARNING: " + str(x.message).strip().replace("\n", " "))
        elif issubclass(x.category, KickstartParseWarning):
            ws.append("PARSE-WARNING: " + str(x.message).strip().replace("\n", " "))
    out = ws + ([err] if err else [])
    return " | ".join(out) if out else "ok"

cases = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip() and not l.startswith("##")]
for case in cases:
    text = case.replace("\\n", "\n") + "\n"
    print("### " + case)
    for name, ver in VERS:
        print("  %-6s %s" % (name, run(text, ver)))
