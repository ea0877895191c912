"""The kbqa web app (Gradio): `kbqa ui` serves `ui.app`. Only `ui.app` imports gradio."""
