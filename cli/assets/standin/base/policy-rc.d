#!/bin/sh
# Installed by msctl into its stand-in images: packages must never start services
# while an image is being built (there is no init system in a container anyway).
exit 101
