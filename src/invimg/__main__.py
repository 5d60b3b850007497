"""``python -m invimg`` runs the command line, as the ``invimg`` script does."""

from invimg.interfaces.entry import main

main()
