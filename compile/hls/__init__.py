"""The HLS backend: Vitis-HLS C++ and Tcl (codegen), g++ C-simulation (csim), the command (cli)."""
