from cadastre.cli import main

main()
