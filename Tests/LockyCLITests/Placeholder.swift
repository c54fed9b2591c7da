// The end-to-end tests of the locky command live beside this file.
