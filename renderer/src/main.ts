// Renderer entry: mounts the Svelte 5 app. All backend access goes through lib/api (typed app API).
import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('missing #app element');
mount(App, { target });
