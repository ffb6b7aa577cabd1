"""Start the demo shop against a running wxpay-local:

    python examples/shop/run.py                      # merchant 1900000109 on :8700, shop on :8800

Options: --platform URL, --mch-id, --port, --data DIR (the shop's SQLite and certificate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shop_app import create_app  # noqa: E402 - after the path above
from shop_config import from_wxpay_local  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="The wxpay_sdk demo shop")
    parser.add_argument("--platform", default="http://127.0.0.1:8700")
    parser.add_argument("--mch-id", default="1900000109")
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--data", type=Path, default=Path("shop-data"))
    args = parser.parse_args()
    public = f"http://127.0.0.1:{args.port}"
    config = from_wxpay_local(args.platform, args.mch_id, public, args.data)
    print(f"Demo shop of merchant {config.mch_id} on {public} (platform {config.platform})")
    uvicorn.run(create_app(config), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
