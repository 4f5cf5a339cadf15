"""``python -m sentinet.models.build_kernel [--check] [--verbose]``: build SRU's fused CPU
kernel (``make install`` runs it) or say whether it is in use. The work is in kernel.py;
this entry point exists because running that module itself with ``-m`` would execute it a
second time (sentinet.models imports it), which Python warns about."""

from sentinet.models.kernel import main

if __name__ == "__main__":
    main()
