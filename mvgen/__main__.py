from mvgen.cli import main

main()
