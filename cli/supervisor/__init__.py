"""Starting, watching and stopping the processes of a Vigil installation (`vigil up`)."""
