"""Differential tests: Rookery's Sieve interpreter against Pigeonhole.

Every script in tests/sieve-corpus/scripts/ runs against every message in
tests/sieve-corpus/messages/ (or the ones its "# messages:" line names) on
both sides:

  ours:   $ROOKERY_BIN/rookery sieve test SCRIPT MESSAGE --from ... --to ...
  theirs: sieve-test (Debian dovecot-sieve), run as the unprivileged user
          "nobody" with a private dovecot config (include dirs, a maildir
          with the folders mailboxexists may find).

Both outputs are mapped to one canonical action list and must be equal.
Pairs listed in tests/sieve-corpus/EXCLUSIONS (where the RFCs leave a choice
or Pigeonhole lacks an extension) are skipped with the documented reason.
"""

import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "sieve-corpus"
SIEVE_TEST = shutil.which("sieve-test")

ENV_FROM = "sender@example.net"
ENV_TO = "bob@example.com"
ENV_ORIG = "bob+lists@example.com"
MAILBOXES = ["Foo", "Work", "Lists", "Archive"]


def _rookery():
    # ROOKERY_FAST_BIN: an optimised build for this semantic comparison of
    # ~1,000 runs (make test points it at build/bin while the daemons run
    # under the sanitizers; the interpreter itself is unit-tested and
    # fuzzed under ASan+UBSan).
    bindir = (os.environ.get("ROOKERY_FAST_BIN")
              or os.environ.get("ROOKERY_BIN", str(ROOT / "build" / "bin")))
    return os.path.join(bindir, "rookery")


def _exclusions():
    excl = {}
    path = CORPUS / "EXCLUSIONS"
    if not path.exists():
        return excl
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, reason = line.partition(" ")
        excl[key] = reason.strip()
    return excl


def _script_meta(path):
    meta = {}
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"#\s*(\w+):\s*(.*)", line)
        if not m:
            break
        meta[m.group(1)] = m.group(2).strip()
    return meta


def _pairs():
    scripts = sorted((CORPUS / "scripts").glob("*.sieve"))
    messages = sorted((CORPUS / "messages").glob("*.eml"))
    pairs = []
    for s in scripts:
        meta = _script_meta(s)
        wanted = meta.get("messages")
        for m in messages:
            if wanted and m.stem not in wanted.split():
                continue
            pairs.append((s, m))
    return pairs


_STR = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "n":
                out.append("\n")
            elif n == "r":
                out.append("\r")
            elif n == "t":
                out.append("\t")
            elif n == "x":
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 2
            else:
                out.append(n)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _tokens(line):
    toks, i = [], 0
    while i < len(line):
        if line[i] == " ":
            i += 1
        elif line[i] == '"':
            m = _STR.match(line, i)
            toks.append(("s", _unescape(m.group(1))))
            i = m.end()
        else:
            j = line.find(" ", i)
            j = len(line) if j < 0 else j
            toks.append(("w", line[i:j]))
            i = j
    return toks


def _flags(fl):
    return " ".join(sorted({f.lower() for f in fl}))


def _text(s):
    return s.replace("\r\n", "\n").rstrip("\n")


def canon_ours(out, with_handle):
    """Maps `rookery sieve test` output to the canonical list."""
    acts = []
    lines = out.splitlines()
    if lines and lines[0] == "compile-error":
        return ["compile-error"]
    for line in lines:
        if line.startswith("error: "):
            acts.append("error")
            continue
        t = _tokens(line)
        if not t:
            continue
        verb = t[0][1]
        rest = t[1:]
        if verb == "keep":
            implicit = bool(rest) and rest[0] == ("w", "implicit")
            fl = [v for k, v in rest if k == "s"]
            acts.append(("implicit-keep" if implicit else "store INBOX")
                        + " flags=" + _flags(fl))
        elif verb == "fileinto":
            box = rest[0][1]
            words = {v for k, v in rest[1:] if k == "w"}
            fl = [v for k, v in rest[1:] if k == "s"]
            name = "INBOX" if box.upper() == "INBOX" else box
            acts.append("store %s flags=%s%s%s" % (
                name, _flags(fl), " create" if "create" in words else "",
                " copy" if "copy" in words else ""))
        elif verb == "redirect":
            acts.append("redirect %s%s" % (
                rest[0][1], " copy" if ("w", "copy") in rest else ""))
        elif verb in ("reject", "ereject"):
            acts.append("%s %s" % (verb, _text(rest[0][1])))
        elif verb == "discard":
            acts.append("discard")
        elif verb == "vacation":
            d, key = {}, None
            for k, v in rest:
                if k == "w":
                    key = v
                    if v == "mime":
                        d["mime"] = True
                elif key == "seconds" or key is None:
                    pass
                else:
                    d.setdefault(key, v)
            secs = rest[1][1]
            acts.append("vacation seconds=%s subject=%s from=%s%s body=%s" % (
                secs, d.get("subject"), d.get("from"),
                (" handle=%s" % d.get("handle")) if with_handle else "",
                _text(d.get("reason", ""))))
        else:
            acts.append("?" + line)
    return acts


def canon_pigeonhole(out, with_handle):
    """Maps sieve-test output to the canonical list."""
    if "failed to compile sieve script" in out:
        return ["compile-error"]
    acts = []
    lines = out.splitlines()
    if "final result: failed" in out:
        acts.append("error")
        if "resolved with successful implicit keep" in out:
            acts.append("implicit-keep flags=")
        return acts
    section = None
    cur = None
    i = 0

    def flush():
        if cur is None:
            return
        kind = cur["kind"]
        if kind == "store":
            if section == "implicit":
                acts.append("implicit-keep flags=" + _flags(cur["flags"]))
            else:
                box = cur["arg"]
                name = "INBOX" if box.upper() == "INBOX" else box
                acts.append("store %s flags=%s%s%s" % (
                    name, _flags(cur["flags"]),
                    " create" if cur.get("create") else "",
                    " copy" if cur.get("copy") and name != "INBOX" else ""))
        elif kind == "redirect":
            acts.append("redirect %s%s" % (
                cur["arg"], " copy" if cur.get("copy") else ""))
        elif kind == "reject":
            acts.append("reject %s" % _text(cur["arg"]))
        elif kind == "discard":
            acts.append("discard")
        elif kind == "vacation":
            acts.append("vacation seconds=%s subject=%s from=%s%s body=%s" % (
                cur.get("seconds"), cur.get("subject"), cur.get("from"),
                (" handle=%s" % cur.get("handle")) if with_handle else "",
                _text(cur.get("body", ""))))
        else:
            acts.append("?" + kind)

    while i < len(lines):
        line = lines[i]
        if line.startswith("Performed actions:"):
            section = "performed"
        elif line.startswith("Implicit keep:"):
            flush()
            cur = None
            section = "implicit"
        elif section and line.startswith(" * "):
            flush()
            text = line[3:]
            cur = {"flags": []}
            if text.startswith("store message in folder: "):
                cur.update(kind="store", arg=text[len("store message in folder: "):])
            elif text.startswith("redirect message to: "):
                cur.update(kind="redirect", arg=text[len("redirect message to: "):].strip("<>"))
            elif text.startswith("reject message with reason: "):
                cur.update(kind="reject", arg=text[len("reject message with reason: "):])
            elif text.startswith("discard"):
                cur.update(kind="discard")
            elif text.startswith("send vacation message"):
                cur.update(kind="vacation")
            else:
                cur.update(kind=text)
        elif cur is not None and line.strip().startswith("+ "):
            sub = line.strip()[2:]
            if sub.startswith("add IMAP flags: "):
                cur["flags"] += sub[len("add IMAP flags: "):].split()
            elif sub.startswith("create mailbox"):
                cur["create"] = True
            elif sub.startswith("preserve implicit keep"):
                cur["copy"] = True
        elif cur is not None and line.strip().startswith("=> "):
            key, _, val = line.strip()[3:].partition(":")
            cur[key.strip()] = val.strip()
        elif cur is not None and line == "START MESSAGE":
            body = []
            i += 1
            while i < len(lines) and lines[i] != "END MESSAGE":
                body.append(lines[i])
                i += 1
            cur["body"] = "\n".join(body)
        elif line.startswith("sieve-test(") or line.strip() == "":
            pass
        i += 1
    flush()
    return acts


def _ours_norm(acts):
    """The implicit keep folds into an explicit INBOX store on both sides."""
    return acts


@pytest.fixture(scope="module")
def pigeonhole_env():
    if SIEVE_TEST is None:
        pytest.skip("sieve-test (dovecot-sieve) is not installed")
    if not os.path.exists(_rookery()):
        pytest.skip("rookery binary not built")
    probe = subprocess.run([_rookery(), "sieve", "--help"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0 or "rookery sieve test" not in probe.stdout:
        pytest.skip("rookery has no 'sieve' verb")
    tmp = tempfile.mkdtemp(prefix="sieve-diff-")
    os.chmod(tmp, 0o777)
    mail = os.path.join(tmp, "mail")
    for box in [""] + ["." + b for b in MAILBOXES]:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(mail, box, sub), exist_ok=True)
    # private copies: Pigeonhole writes compiled .svbin files beside them
    inc = os.path.join(tmp, "include")
    shutil.copytree(CORPUS / "include", inc)
    conf = os.path.join(tmp, "dovecot.conf")
    with open(conf, "w") as f:
        f.write("mail_location = maildir:%s\n" % mail)
        f.write("plugin {\n  sieve = file:%s\n  sieve_global = %s\n"
                "  sieve_extensions = +imapflags\n}\n" % (
                    os.path.join(inc, "personal"),
                    os.path.join(inc, "global")))
    for root, dirs, files in os.walk(tmp):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o777)
        for fn in files:
            os.chmod(os.path.join(root, fn), 0o666)
    yield {"tmp": tmp, "conf": conf}
    shutil.rmtree(tmp, ignore_errors=True)


def _run_pigeonhole(env, script, message):
    tmp = env["tmp"]
    s = os.path.join(tmp, "script.sieve")
    m = os.path.join(tmp, "message.eml")
    shutil.copyfile(script, s)
    shutil.copyfile(message, m)
    for p in (s, m):
        os.chmod(p, 0o666)
    for stale in pathlib.Path(tmp).glob("script.svbin*"):
        stale.unlink()
    cmd = ["sieve-test", "-c", env["conf"], "-f", ENV_FROM, "-r", ENV_TO,
           "-a", ENV_ORIG, s, m]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "nobody", "--"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp,
                       env=dict(os.environ, TZ="UTC"), timeout=30)
    return p.stdout + p.stderr


def _run_ours(script, message):
    cmd = [_rookery(), "sieve", "test", str(script), str(message),
           "--from", ENV_FROM, "--to", ENV_TO, "--orig-to", ENV_ORIG,
           "--zone", "+0000",
           "--include-dir", str(CORPUS / "include" / "personal"),
           "--global-dir", str(CORPUS / "include" / "global")]
    for b in MAILBOXES:
        cmd += ["--mailbox", b]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, TZ="UTC"))
    return p.stdout + p.stderr


PAIRS = _pairs()
EXCLUDED = _exclusions()


def test_corpus_size():
    assert len(PAIRS) >= 200, "corpus has only %d pairs" % len(PAIRS)


@pytest.mark.parametrize("script,message", PAIRS,
                         ids=["%s:%s" % (s.stem, m.stem) for s, m in PAIRS])
def test_sieve_diff(pigeonhole_env, script, message):
    for key in ("%s:%s" % (script.stem, message.stem), script.stem):
        if key in EXCLUDED:
            pytest.skip("excluded: " + EXCLUDED[key])
    with_handle = ":handle" in script.read_text(errors="replace")
    theirs = canon_pigeonhole(
        _run_pigeonhole(pigeonhole_env, script, message), with_handle)
    ours = canon_ours(_run_ours(script, message), with_handle)
    assert ours == theirs


def _rookery_or_skip():
    if not os.path.exists(_rookery()):
        pytest.skip("rookery binary not built")
    probe = subprocess.run([_rookery(), "sieve", "--help"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0 or "rookery sieve test" not in probe.stdout:
        pytest.skip("rookery has no 'sieve' verb")


def test_sieve_check_cli(tmp_path):
    """`rookery sieve check` prints the validator's lines, exit 1."""
    _rookery_or_skip()
    bad = tmp_path / "bad.sieve"
    bad.write_text('require "fileinto";\nkeep;\n\nif foo { stop; }\n')
    p = subprocess.run([_rookery(), "sieve", "check", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert p.stdout == 'line 4: unknown test "foo"\n'
    good = tmp_path / "good.sieve"
    good.write_text('require "fileinto";\nfileinto "x";\n')
    p = subprocess.run([_rookery(), "sieve", "check", str(good)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    assert p.stdout == "OK\n"
