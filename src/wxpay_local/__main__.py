"""``python -m wxpay_local``: the same as the ``wxpay-local`` command."""

from wxpay_local.cli import main

if __name__ == "__main__":
    main()
