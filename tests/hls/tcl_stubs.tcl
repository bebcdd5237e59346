# Recording stubs for the Vivado / Vitis HLS commands: every command Tcl does not know is
# written to $::record_file as one line, the command name and its arguments separated by \x1f,
# and returns its last argument (enough for `set x [create_bd_cell ... name]`,
# `get_bd_intf_pins path`, `get_files name`). `file copy/mkdir/delete` are recorded, not done.
# Usage: tclsh tcl_stubs.tcl RECORD_FILE SCRIPT.tcl
set ::record_file [lindex $argv 0]
set ::script [lindex $argv 1]
set ::record [open $::record_file w]

proc record {name args} {
    puts $::record [join [concat [list $name] $args] "\x1f"]
    flush $::record
}

rename unknown _tcl_unknown
proc unknown {name args} {
    record $name {*}$args
    if {[llength $args] == 0} { return "" }
    return [lindex $args end]
}

# commands whose results the scripts use
proc get_board_parts {args} {
    record get_board_parts {*}$args
    return [list tul.com.tw:pynq-z2:part0:1.0 xilinx.com:kv260_som:part0:1.4]
}
proc get_property {args} {
    record get_property {*}$args
    return "/stub/[lindex $args 0]"
}
proc exit {args} { record exit {*}$args }

rename file _tcl_file
proc file {sub args} {
    if {$sub in {copy mkdir delete rename}} {
        record file $sub {*}$args
        return ""
    }
    return [_tcl_file $sub {*}$args]
}

source $::script
close $::record
