#!/bin/sh
# lib_mta.sh - being written (issue 13).
