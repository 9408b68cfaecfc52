"""The documented file formats users bring (docs/data-formats.md), each read in one place."""
