// Package badinput is a catalogue of hostile inputs (tests only).
package badinput
