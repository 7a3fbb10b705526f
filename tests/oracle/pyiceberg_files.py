"""pyiceberg as the oracle of Iceberg metadata. Argument: JSON {"root": DIR, "tables":
[{"table": PATH below root, "metadata": metadata file below root}, ...]}; run with the
working directory at root (the corpus's metadata holds paths relative to where it was
written). Per table: the current snapshot's files as pyiceberg's own manifest reader
lists them (content 0 data, 1 position deletes, 2 equality deletes), paths below the
table's location, or the error pyiceberg gives. Prints JSON; leaves with os._exit."""
import json
import os
import sys


def main(arg):
    from pyiceberg.table import StaticTable

    def plain(p):
        for pre in ("file://", "file:"):
            if p.startswith(pre):
                p = p[len(pre):]
        if p.startswith("./"):
            p = p[2:]
        return p.rstrip("/")

    def files_of(t):
        table = StaticTable.from_metadata(os.path.join(arg["root"], t["metadata"]))
        loc = plain(table.metadata.location)
        snap = table.current_snapshot()
        files = []
        if snap is not None:
            for m in snap.manifests(table.io):
                for e in m.fetch_manifest_entry(table.io, discard_deleted=True):
                    p = plain(e.data_file.file_path)
                    rel = p[len(loc) + 1:] if p.startswith(loc + "/") else "OUTSIDE:" + p
                    files.append([rel, int(e.data_file.content)])
        return {"files": sorted(files), "version": table.metadata.format_version}

    out = {}
    for t in arg["tables"]:
        # Paths relative to where the table was written: from the corpus root, or from
        # the directory holding the table.
        answer = None
        for cwd in (arg["root"], os.path.dirname(os.path.join(arg["root"], t["table"]))):
            os.chdir(cwd)
            try:
                answer = files_of(t)
                break
            except FileNotFoundError as e:
                answer = {"error": str(e).splitlines()[0][:300]}
            except Exception as e:  # noqa: BLE001 - the oracle reports what pyiceberg says
                answer = {"error": str(e).splitlines()[0][:300]}
                if "No such file" not in str(e):
                    break
        out[t["table"]] = answer
    return out


result = main(json.loads(sys.argv[1]))
sys.stdout.write(json.dumps(result))
sys.stdout.flush()
os._exit(0)
