"""The RTL backend: SystemVerilog from the templates (codegen), Verilator (sim), Yosys/nextpnr
(synth) and their commands (cli)."""
