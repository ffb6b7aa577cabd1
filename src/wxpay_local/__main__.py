from wxpay_local.cli import main

main()
