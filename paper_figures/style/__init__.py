"""The shared style of every figure and table: palette (colours, markers, order), panels, tables."""
