"""Real ManageSieve clients against the store's sieve listener (STARTTLS
with the test certificate, then SASL): Cyrus `sieveshell` (cyrus-admin)
and Net::Sieve (libnet-sieve-perl), each doing put, list, activate, get
and delete, checked through the control socket.  Each test skips when its
client is not installed."""

import os
import shutil
import subprocess

import pytest

ALICE = "alice@example.com"
PW = "pw-alice"
FILER = 'require "fileinto";\nif header :contains "Subject" "x" {\n' \
        '  fileinto "X";\n}\n'
FLAGS = 'require "imap4flags";\naddflag "\\\\Flagged";\n'


def have_net_sieve():
    if shutil.which("perl") is None:
        return False
    return subprocess.run(["perl", "-MNet::Sieve", "-e", "1"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


@pytest.fixture
def st(store_factory):
    s = store_factory(listen=("lmtp", "sieve"))
    s.add_user(ALICE, PW)
    return s


def lines(text):
    return [ln for ln in text.replace("\r", "").split("\n")]


@pytest.mark.skipif(shutil.which("sieveshell") is None,
                    reason="sieveshell (cyrus-admin) not installed")
def test_sieveshell(st, tmp_path):
    (tmp_path / "filer.sieve").write_text(FILER)
    (tmp_path / "flags.sieve").write_text(FLAGS)
    # Commands from a file (-f), the password on stdin where its prompt
    # reads it: nothing secret on the command line.
    cmds = tmp_path / "cmds"
    cmds.write_text("put %s filer\nput %s flags\nlist\nactivate filer\n"
                    "get filer\ndelete flags\nlist\n"
                    % (tmp_path / "filer.sieve", tmp_path / "flags.sieve"))
    p = subprocess.run(["sieveshell", "-a", ALICE, "-u", ALICE,
                        "-f", str(cmds),
                        "127.0.0.1:%d" % st.port("sieve")],
                       input=(PW + "\n").encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=15, cwd=tmp_path)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 0, (out, err)
    assert "unable to" not in out + err, (out, err)
    # the first list: both, none active; the second: filer, active
    got = [ln.strip() for ln in lines(out)]
    assert "filer" in got and "flags" in got, out
    assert "filer  <- active script" in got, out
    # get without a file prints the script as stored
    assert FILER.strip() in out.replace("\r", ""), out
    assert st.control_ok("sieve-list %s" % ALICE) == ["filer active"]
    assert st.control_ok("sieve-get %s filer" % ALICE) == \
        FILER.rstrip("\n").split("\n")


PERL = r'''
use strict;
use warnings;
use Net::Sieve;

my ($port, $user, $pw, $script) = @ARGV;
my $s = Net::Sieve->new(server => '127.0.0.1', port => $port,
                        user => $user, password => $pw,
                        ssl_verify => '0x00')
    or die "no connection\n";
$s->put('one', $script) or die "put one failed\n";
$s->put('two', "keep;\r\n") or die "put two failed\n";
print "LIST ", join(',', map { $_->{name} . ($_->{status} ? '*' : '') }
                     sort { $a->{name} cmp $b->{name} } $s->list()),
      "\n";
$s->activate('one') or die "activate failed\n";
my $got = $s->get('one');
$got =~ s/\r\n/\n/g;
print "GET ", $got;
print "END\n";
$s->delete('two') or die "delete failed\n";
print "LIST ", join(',', map { $_->{name} . ($_->{status} ? '*' : '') }
                     $s->list()), "\n";
print "DONE\n";
'''


@pytest.mark.skipif(not have_net_sieve(),
                    reason="Net::Sieve (libnet-sieve-perl) not installed")
def test_net_sieve_perl(st, tmp_path):
    prog = tmp_path / "client.pl"
    prog.write_text(PERL)
    p = subprocess.run(["perl", str(prog), str(st.port("sieve")), ALICE, PW,
                        FILER.replace("\n", "\r\n")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=15)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 0 and "DONE" in out, (out, err)
    got = lines(out)
    assert "LIST one,two" in got, out
    assert "GET " + FILER + "END" in out, out
    assert "LIST one*" in got, out
    assert st.control_ok("sieve-list %s" % ALICE) == ["one active"]
